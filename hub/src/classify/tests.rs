//! The table: customer messages as they come in (half Chinese), each with the class a person
//! would give it. The classifier must get at least 90 % right; the figure is printed.

use super::*;

const TABLE: &[(&str, Class)] = &[
    // Chinese
    ("三号楼的摄像头从早上开始就一直黑屏", Class::CameraVideo),
    ("大门口监控画面看不到了，请尽快处理", Class::CameraVideo),
    ("停车场那台摄像机画面很模糊，看不清车牌", Class::CameraVideo),
    ("昨晚的录像回放不了，提示找不到文件", Class::CameraVideo),
    ("食堂的摄像头花屏，一直闪", Class::CameraVideo),
    ("机房突然断电了，所有设备都没反应", Class::Power),
    ("配电箱跳闸了，二楼的设备都不通电", Class::Power),
    ("UPS 一直在报警，好像快没电了", Class::Power),
    ("门禁设备指示灯不亮，是不是电源坏了", Class::Power),
    ("整栋楼停电，恢复后网关一直起不来", Class::Power),
    ("办公区网络断了，电脑都上不了网", Class::NoNetwork),
    ("三楼的设备全部掉线了", Class::NoNetwork),
    ("网关离线，平台上显示灰色", Class::NoNetwork),
    ("服务器 ping 不通，远程也连不上", Class::NoNetwork),
    ("无线网络时断时续，经常连不上", Class::NoNetwork),
    ("机房温度传感器读数一直是零", Class::Sensor),
    ("湿度数值明显不对，显示 100%", Class::Sensor),
    ("仓库的烟感探测器一直误报", Class::Sensor),
    ("系统打开特别慢，每个页面都要加载半天", Class::Slow),
    ("平台操作很卡，点一下要等好几秒", Class::Slow),
    ("报表导出一直转圈，延迟特别大", Class::Slow),
    ("想咨询一下下个月的巡检安排", Class::Other),
    // English
    (
        "The camera at the north gate shows a black screen since this morning",
        Class::CameraVideo,
    ),
    (
        "We can't see any video from the lobby CCTV",
        Class::CameraVideo,
    ),
    (
        "Recording stopped on the parking lot camera, no footage after 2am",
        Class::CameraVideo,
    ),
    (
        "The picture from camera 4 is very blurry",
        Class::CameraVideo,
    ),
    (
        "Live stream from the warehouse keeps dropping to a grey image",
        Class::CameraVideo,
    ),
    (
        "Power outage in building B, the cabinet is dead",
        Class::Power,
    ),
    (
        "The breaker tripped and the switch rack has no electricity",
        Class::Power,
    ),
    (
        "UPS alarm is beeping and the battery is almost empty",
        Class::Power,
    ),
    (
        "The access controller won't turn on, all lights are off",
        Class::Power,
    ),
    ("The whole third floor is offline", Class::NoNetwork),
    (
        "No internet at the branch office since 9:00",
        Class::NoNetwork,
    ),
    ("Gateway unreachable from the head office", Class::NoNetwork),
    (
        "Our devices keep getting disconnected from the network",
        Class::NoNetwork,
    ),
    ("We cannot connect to the NVR remotely", Class::NoNetwork),
    (
        "Temperature sensor in the server room reads 0",
        Class::Sensor,
    ),
    ("Humidity readings look wrong, stuck at 99%", Class::Sensor),
    (
        "The smoke detector in the archive keeps going off",
        Class::Sensor,
    ),
    ("The dashboard is extremely slow to load", Class::Slow),
    (
        "Everything is laggy, each click takes several seconds",
        Class::Slow,
    ),
    (
        "Reports take forever and the app feels sluggish",
        Class::Slow,
    ),
    ("Please send us the invoice for last month", Class::Other),
    (
        "Can an engineer come on Friday for the yearly check?",
        Class::Other,
    ),
];

#[test]
fn at_least_ninety_percent_of_real_messages_land_in_the_right_class() {
    let zh = TABLE.iter().filter(|(t, _)| !t.is_ascii()).count();
    assert!(
        TABLE.len() >= 40 && zh * 2 >= TABLE.len(),
        "{} messages, {zh} Chinese",
        TABLE.len()
    );
    let wrong: Vec<_> = TABLE
        .iter()
        .map(|(text, want)| (text, want, classify(text)))
        .filter(|(_, want, got)| got.class != **want)
        .collect();
    let right = TABLE.len() - wrong.len();
    let share = right as f64 / TABLE.len() as f64;
    println!(
        "classified {right} of {} right ({:.1} %); wrong: {wrong:#?}",
        TABLE.len(),
        share * 100.0
    );
    assert!(
        share >= 0.9,
        "{:.1} % right; wrong: {wrong:#?}",
        share * 100.0
    );
}

#[test]
fn the_reason_is_the_words_that_decided() {
    let v = classify("机房突然断电了");
    assert_eq!((v.class, v.matched), (Class::Power, vec!["断电"]));
    let v = classify("hello");
    assert_eq!((v.class, v.matched.len()), (Class::Other, 0));
}
