//! Sandbox and template names: lowercase letters, digits and `-`, at most 50 characters.

use thiserror::Error;

/// Longest accepted name.
pub const MAX_NAME_LEN: usize = 50;

/// Why a name was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    #[error("name must not be empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("name must be at most {MAX_NAME_LEN} characters")]
    TooLong,
    /// The name has a character outside `[a-z0-9-]`.
    #[error("name may contain only lowercase letters, digits and '-' (got {0:?})")]
    BadChar(char),
}

/// Checks a user-supplied name.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(NameError::BadChar(c));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_name("web-1"), Ok(()));
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name("Web"), Err(NameError::BadChar('W')));
        assert_eq!(validate_name("a_b"), Err(NameError::BadChar('_')));
        assert_eq!(validate_name(&"a".repeat(51)), Err(NameError::TooLong));
        assert_eq!(validate_name(&"a".repeat(50)), Ok(()));
    }
}
