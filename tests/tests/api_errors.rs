//! The API's error messages in the reader's language: the same bad requests (an unknown
//! ticket, an unknown path under /api/v1/, a malformed body) answered in Simplified Chinese
//! and in English, each saying what went wrong, never as a raw message key.

use heartline_e2e::{Fleet, TestHub, WebClient, ids};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_answered_in_the_readers_language() {
    let mut fleet = Fleet::new(&[("acme", ids("acme", 1))]);
    let alice = fleet.with_user("alice", "customer", "acme");
    let th = TestHub::start(&fleet).await.unwrap();
    let mut web = WebClient::new(th.hub.http);
    let (status, _) = web.login("alice", &alice).await;
    assert_eq!(status, 200);

    // (language, [unknown ticket, unknown path, malformed body]): what each error starts with.
    let expected = [
        (
            "zh-CN",
            [
                "找不到工单 999999：请检查工单号",
                "/api/v1/nope 没有对应的页面或 API 路由：请检查地址",
                "请求无效，请检查地址、参数和请求体：",
            ],
        ),
        (
            "en",
            [
                "ticket 999999 not found",
                "no page or API route at /api/v1/nope: check the address",
                "Failed to deserialize the JSON body",
            ],
        ),
    ];
    for (lang, want) in expected {
        web.language = Some(lang.into());
        let answers = [
            web.get("/api/v1/tickets/999999").await,
            web.get("/api/v1/nope").await,
            web.post("/api/v1/tickets/999999/comment", json!({"text": 5}))
                .await,
        ];
        let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [404, 404, 422], "{lang}: {answers:?}");
        for ((_, body), want) in answers.iter().zip(want) {
            let error = body["error"].as_str().unwrap_or_default();
            assert!(error.starts_with(want), "{lang}: want {want:?}, got {body}");
            assert!(!error.starts_with("err-"), "{lang}: a raw key: {body}");
        }
    }
}
