//! What a customer's problem report is about, from its free text (Chinese or English): no
//! network, camera/video, power, sensor, slow, or other — with the words that decided it, which
//! staff see beside the report. Keyword rules with weights, not a model: every decision can be
//! explained and the table test (`tests` below) says how often it is right.

pub mod matching;
mod words;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    NoNetwork,
    CameraVideo,
    Power,
    Sensor,
    Slow,
    Other,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::NoNetwork,
        Class::CameraVideo,
        Class::Power,
        Class::Sensor,
        Class::Slow,
        Class::Other,
    ];

    /// The catalogue id of the class's name.
    pub fn message_id(self) -> &'static str {
        match self {
            Class::NoNetwork => "class-no-network",
            Class::CameraVideo => "class-camera-video",
            Class::Power => "class-power",
            Class::Sensor => "class-sensor",
            Class::Slow => "class-slow",
            Class::Other => "class-other",
        }
    }
}

/// A report's class and the words that decided it (empty for [`Class::Other`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub class: Class,
    pub matched: Vec<&'static str>,
}

/// Classifies `text`: each class scores the weights of its words found in the text
/// (case-insensitive); the highest score wins, ties go to the class listed first in
/// [`words::RULES`]; nothing found is [`Class::Other`].
pub fn classify(text: &str) -> Verdict {
    let lower = text.to_lowercase();
    let mut best = Verdict {
        class: Class::Other,
        matched: Vec::new(),
    };
    let mut best_score = 0;
    for (class, rules) in words::RULES {
        let mut score = 0;
        let mut matched = Vec::new();
        for (word, weight) in *rules {
            if lower.contains(word) {
                score += weight;
                matched.push(*word);
            }
        }
        if score > best_score {
            best_score = score;
            best = Verdict {
                class: *class,
                matched,
            };
        }
    }
    best
}

#[cfg(test)]
mod matching_tests;
#[cfg(test)]
mod tests;
