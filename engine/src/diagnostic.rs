//! Errors in a file the operator wrote (config, inventory), pointing at the exact line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A mistake in a TOML file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    /// 1-based; 0 when the mistake is not tied to one place (e.g. the file cannot be read).
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The offending line as written, for the operator to recognise.
    pub excerpt: String,
}

impl FileError {
    /// A mistake at a byte range of `src`.
    pub fn at(
        path: &Path,
        src: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column, excerpt) = match span {
            Some(span) => {
                let start = span.start.min(src.len());
                let before = &src[..start];
                let line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let column = src[line_start..start].chars().count() + 1;
                let excerpt = src[line_start..].lines().next().unwrap_or("").to_string();
                (line, column, excerpt)
            }
            None => (0, 0, String::new()),
        };
        FileError {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            excerpt,
        }
    }

    /// A TOML syntax or type error as reported by the parser.
    pub fn from_toml(path: &Path, src: &str, err: &toml::de::Error) -> Self {
        FileError::at(path, src, err.span(), err.message())
    }

    /// The file could not be read at all.
    pub fn unreadable(path: &Path, err: &std::io::Error) -> Self {
        FileError::at(path, "", None, format!("cannot read the file: {err}"))
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.path.display(), self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}\n  {} | {}",
            self.path.display(),
            self.line,
            self.column,
            self.message,
            self.line,
            self.excerpt
        )
    }
}

impl std::error::Error for FileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_line_and_column() {
        let src = "a = 1\nbb = oops\n";
        let at = src.find("oops").unwrap();
        let e = FileError::at(Path::new("x.toml"), src, Some(at..at + 4), "bad value");
        assert_eq!((e.line, e.column), (2, 6));
        assert_eq!(e.excerpt, "bb = oops");
        assert_eq!(e.to_string(), "x.toml:2:6: bad value\n  2 | bb = oops");
    }
}
