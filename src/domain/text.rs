//! Free text from people: names, subjects, notes, descriptions.
//!
//! Why one parser: a string the log accepts is copied into every read
//! model, every export and every e-mail for as long as the log lives.
//! PostgreSQL cannot store NUL in `text` or `jsonb`, terminals and CSV
//! readers are confused by other control characters, and a log cannot be
//! corrected later. So free text is parsed once, here, before any decision:
//! trimmed, bounded in characters, and free of control characters (Unicode
//! category Cc: U+0000–U+001F, U+007F–U+009F). Multi-line fields (ticket
//! descriptions and comments, notes, partner-kit texts) keep newlines,
//! carriage returns and tabs; every other field is one line.
//!
//! Events written before this rule (or imported from a legacy system) may
//! still hold such characters: the projections store them in a form their
//! database accepts (see `projection::storable`), and the log keeps the
//! exact bytes.

use crate::domain::DomainError;

/// Whether a field may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// No control character at all.
    One,
    /// Newline, carriage return and tab allowed; other control characters not.
    Many,
}

/// The first control character `text` may not hold, with its index in
/// characters.
pub fn forbidden_control(text: &str, lines: Lines) -> Option<(usize, char)> {
    text.chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !(lines == Lines::Many && matches!(c, '\n' | '\r' | '\t')))
}

/// Refuses control characters (see the module doc) with
/// [`DomainError::ControlCharacter`].
pub fn check_controls(text: &str, lines: Lines) -> Result<(), DomainError> {
    match forbidden_control(text, lines) {
        Some((index, c)) => Err(DomainError::ControlCharacter {
            code_point: u32::from(c),
            index,
        }),
        None => Ok(()),
    }
}

/// Trimmed free text of 1 to `max` characters without forbidden control
/// characters; `invalid` is the field's error for empty or too long text.
pub fn parse(
    raw: &str,
    max: usize,
    lines: Lines,
    invalid: DomainError,
) -> Result<String, DomainError> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(invalid);
    }
    check_controls(text, lines)?;
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_control_characters_and_names_the_first() {
        for (input, code_point, index) in [
            ("a\u{0}b", 0, 1),
            ("\u{1b}[31mred", 0x1b, 0),
            ("tab\there", 9, 3),
            ("line\nbreak", 10, 4),
            ("c1\u{85}x", 0x85, 2),
            ("del\u{7f}", 0x7f, 3),
        ] {
            assert_eq!(
                parse(input, 100, Lines::One, DomainError::InvalidText),
                Err(DomainError::ControlCharacter { code_point, index }),
                "{input:?}"
            );
        }
    }

    #[test]
    fn multi_line_text_keeps_newlines_and_tabs_only() {
        assert_eq!(
            parse(" a\r\n\tb ", 100, Lines::Many, DomainError::InvalidText),
            Ok("a\r\n\tb".to_owned())
        );
        assert_eq!(
            parse("a\n\u{0}", 100, Lines::Many, DomainError::InvalidText),
            Err(DomainError::ControlCharacter {
                code_point: 0,
                index: 2
            })
        );
    }

    #[test]
    fn bounds_in_characters_after_trimming() {
        assert_eq!(
            parse("  ", 3, Lines::One, DomainError::InvalidName),
            Err(DomainError::InvalidName)
        );
        assert_eq!(
            parse("ééé", 3, Lines::One, DomainError::InvalidName),
            Ok("ééé".into())
        );
        assert_eq!(
            parse("éééé", 3, Lines::One, DomainError::InvalidName),
            Err(DomainError::InvalidName)
        );
        // Unicode that is not a control character is text like any other.
        assert_eq!(
            parse("Zoë 😀 \u{200b}", 10, Lines::One, DomainError::InvalidName),
            Ok("Zoë 😀 \u{200b}".into())
        );
    }
}
