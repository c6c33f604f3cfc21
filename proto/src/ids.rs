//! Identifier rules for tenants, projects, sites, devices and engineers.
//!
//! Ids appear in MQTT topics, so they must not contain the topic separators or wildcards; keeping
//! them to a short ASCII alphabet also keeps them printable in logs and URLs without escaping.

/// Longest id accepted anywhere.
pub const MAX_ID_LEN: usize = 64;

/// Why an id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    Empty,
    TooLong,
    /// The byte offset of the first character outside `[A-Za-z0-9_.-]`.
    BadChar(usize),
}

impl core::fmt::Display for IdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IdError::Empty => f.write_str("id is empty"),
            IdError::TooLong => write!(f, "id is longer than {MAX_ID_LEN} characters"),
            IdError::BadChar(at) => write!(
                f,
                "id has a character outside A-Z a-z 0-9 _ . - at position {at}"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for IdError {}

/// Checks that `id` can be used as a tenant, project, site, device or engineer id.
pub fn validate_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    match id
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'))
    {
        Some(at) => Err(IdError::BadChar(at)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        let cases: &[(&str, Result<(), IdError>)] = &[
            ("cam-001", Ok(())),
            ("gw_7.a", Ok(())),
            ("", Err(IdError::Empty)),
            ("a/b", Err(IdError::BadChar(1))),
            ("a+", Err(IdError::BadChar(1))),
            ("#", Err(IdError::BadChar(0))),
            ("é", Err(IdError::BadChar(0))),
        ];
        for (id, expected) in cases {
            assert_eq!(validate_id(id), *expected, "{id:?}");
        }
        let long = "x".repeat(MAX_ID_LEN + 1);
        assert_eq!(validate_id(&long), Err(IdError::TooLong));
        assert_eq!(validate_id(&long[1..]), Ok(()));
    }
}
