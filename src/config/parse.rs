//! The driver: the text each flag was given ([`super::args`]) → one
//! [`Config`]. Each flag's own `apply` ([`super::flags`]) does the work:
//! first with its documented default, then with what it was given.

use super::args::{given_flag, Args};
use super::draft::Draft;
use super::flags::{Default, Kind, FLAGS};
use super::{Action, ConfigError, EnvLookup};
use std::ffi::OsString;

/// Parses the arguments (without the program name) and the environment.
pub fn parse(argv: Vec<OsString>, env: EnvLookup) -> Result<Action, ConfigError> {
    let args = Args::parse(argv, env)?;
    let mut draft = Draft::default();
    // `--help` and `--version` end the run: nothing else is applied.
    if let Some((flag, _)) = args.given().find(|(f, _)| f.kind == Kind::Exit) {
        (flag.apply)(&mut draft, given_flag(flag, ""))?;
        return Ok(draft.finish());
    }
    for flag in FLAGS {
        if let Default::Value(text) = flag.default {
            (flag.apply)(&mut draft, given_flag(flag, text))?;
        }
    }
    for (flag, values) in args.given() {
        for v in values {
            (flag.apply)(&mut draft, v.clone())?;
        }
    }
    Ok(draft.finish())
}

#[cfg(test)]
mod tests {
    use super::super::flags::{Default, FLAGS};
    use super::*;

    fn run(argv: &[&str]) -> Result<Action, ConfigError> {
        parse(argv.iter().map(OsString::from).collect(), &|_| None)
    }

    /// A documented default is the real one: giving it changes nothing.
    #[test]
    fn documented_defaults_are_the_defaults() {
        let plain = run(&[]).unwrap();
        for flag in FLAGS {
            if let Default::Value(text) = flag.default {
                assert_eq!(run(&[flag.long, text]).unwrap(), plain, "{}", flag.long);
            }
        }
    }
}
