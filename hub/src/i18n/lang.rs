//! Which language a reader gets: the `hl_lang` cookie they chose, else the first of their
//! browser's `Accept-Language` we speak, else Simplified Chinese (the users are in China).

use axum::http::HeaderMap;

/// The cookie the page's language switch sets (one year, the whole site).
pub const COOKIE: &str = "hl_lang";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    /// The BCP 47 tag: `zh-CN`, `en`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    /// A tag we speak (`zh`, `zh-CN`, `zh-Hans-CN`, `en`, `en-GB`…), case-insensitive.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::ZhCn),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The best language of an `Accept-Language` value by its q-weights; `None` if we speak
    /// none of them.
    pub fn from_accept_language(value: &str) -> Option<Lang> {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, item) in value.split(',').enumerate() {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Ties keep the earlier entry.
            if q > 0.0 && best.is_none_or(|(bq, _, _)| q > bq) {
                best = Some((q, i, lang));
            }
        }
        best.map(|(_, _, l)| l)
    }

    /// The language of a request: its cookie, its `Accept-Language`, or Chinese.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        let cookie = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .and_then(|(_, v)| Lang::parse(v));
        cookie
            .or_else(|| {
                headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::from_accept_language)
            })
            .unwrap_or_default()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Lang, Self::Rejection> {
        Ok(Lang::from_headers(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_by_weight_then_order() {
        let check =
            |v: &str, want: Option<Lang>| assert_eq!(Lang::from_accept_language(v), want, "{v}");
        check("zh-CN,zh;q=0.9,en;q=0.8", Some(Lang::ZhCn));
        check("en-US,en;q=0.9", Some(Lang::En));
        check("fr-FR, en;q=0.5, zh;q=0.7", Some(Lang::ZhCn));
        check("de, en-GB;q=0.3", Some(Lang::En));
        check("zh-Hans-CN", Some(Lang::ZhCn));
        check("fr, de", None);
        check("en;q=0, zh;q=0.1", Some(Lang::ZhCn));
        check("", None);
    }

    #[test]
    fn the_cookie_wins_over_the_browser() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::ZhCn, "Chinese by default");
        h.insert("accept-language", "en-US,en;q=0.9".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert("cookie", "hl_session=x; hl_lang=zh-CN".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::ZhCn);
    }
}
