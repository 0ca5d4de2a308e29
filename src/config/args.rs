//! The low-level step: the command line and the environment → the text each
//! flag of [`FLAGS`] was given, and where it came from. Nothing here knows
//! what a flag means; [`super::parse`] does.

use super::flags::{Flag, Kind, FLAGS};
use super::{ConfigError, EnvLookup, Given};
use std::ffi::OsString;

/// What each flag was given, in the order of [`FLAGS`].
pub struct Args {
    /// `None`: neither the command line nor the environment set the flag.
    /// A switch that is on has one empty value.
    given: Vec<Option<Vec<Given>>>,
}

fn err<T>(message: String) -> Result<T, ConfigError> {
    Err(ConfigError(message))
}

impl Args {
    /// Reads the arguments (without the program name), then fills what they
    /// leave unset from the environment. When `--help` or `--version` is
    /// there, nothing else is read (so nothing else can be an error).
    pub fn parse(argv: Vec<OsString>, env: EnvLookup) -> Result<Args, ConfigError> {
        let mut argv = pico_args::Arguments::from_vec(argv);
        let mut args = Args {
            given: vec![None; FLAGS.len()],
        };
        for (i, f) in FLAGS.iter().enumerate() {
            if f.kind == Kind::Exit && take_switch(&mut argv, f) {
                args.given[i] = Some(Vec::new());
                return Ok(args);
            }
        }
        for (i, f) in FLAGS.iter().enumerate() {
            args.given[i] = match f.kind {
                Kind::Exit => None,
                Kind::Switch => take_switch(&mut argv, f).then(|| vec![given_flag(f, "")]),
                Kind::Value(_) => take_value(&mut argv, f)?.map(|v| vec![v]),
                Kind::Repeated(_) => Some(take_values(&mut argv, f)?).filter(|v| !v.is_empty()),
            };
        }
        let rest = argv.finish();
        if let Some(first) = rest.first() {
            let text = first.to_string_lossy();
            return if text.starts_with('-') {
                err(format!("unknown option '{text}' (see --help)"))
            } else {
                // Not echoed: a stray value may be half of a password with a space in it.
                err(format!(
                    "unexpected argument #{} that is not an option (see --help)",
                    rest.len()
                ))
            };
        }
        for (i, f) in FLAGS.iter().enumerate() {
            if let (Some(other), Some(_)) = (f.excludes, &args.given[i]) {
                if position(other).is_some_and(|j| args.given[j].is_some()) {
                    return err(format!("give either {other} or {}, not both", f.long));
                }
            }
        }
        args.add_environment(env)?;
        Ok(args)
    }

    /// Each unset flag takes its variable; the variables of two flags that
    /// exclude each other only when neither flag is given.
    fn add_environment(&mut self, env: EnvLookup) -> Result<(), ConfigError> {
        let from_env: Vec<Option<Vec<Given>>> = FLAGS
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let name = f.env?;
                if self.given[i].is_some() || self.partner_given(f) {
                    return None;
                }
                match f.kind {
                    Kind::Exit => None,
                    Kind::Switch => env_flag(env, name).then(|| vec![given_env(name, "")]),
                    Kind::Value(_) => env_value(env, name).map(|v| vec![given_env(name, &v)]),
                    Kind::Repeated(_) => env_value(env, name).map(|list| {
                        list.split_whitespace()
                            .map(|v| given_env(name, v))
                            .collect()
                    }),
                }
            })
            .collect();
        for (i, f) in FLAGS.iter().enumerate() {
            if let (Some(other), Some(_)) = (f.excludes, &from_env[i]) {
                let Some(j) = position(other) else { continue };
                if from_env[j].is_some() {
                    let (a, b) = (FLAGS[j].env.unwrap_or(other), f.env.unwrap_or(f.long));
                    return err(format!("set either {a} or {b}, not both"));
                }
            }
        }
        for (slot, value) in self.given.iter_mut().zip(from_env) {
            if slot.is_none() {
                *slot = value;
            }
        }
        Ok(())
    }

    fn partner_given(&self, f: &Flag) -> bool {
        FLAGS.iter().enumerate().any(|(j, other)| {
            self.given[j].is_some()
                && (f.excludes == Some(other.long) || other.excludes == Some(f.long))
        })
    }

    /// Each flag with what it was given (by its flag or its variable), in
    /// the order of [`FLAGS`]; a switch that is on has one empty value.
    pub fn given(&self) -> impl Iterator<Item = (&'static Flag, &[Given])> {
        FLAGS
            .iter()
            .zip(&self.given)
            .filter_map(|(f, v)| Some((f, v.as_deref()?)))
    }
}

/// The position of the flag whose `long` is `long` in [`FLAGS`] (a test in
/// `flags.rs` checks that each `excludes` names one).
fn position(long: &str) -> Option<usize> {
    FLAGS.iter().position(|f| f.long == long)
}

pub(crate) fn given_flag(f: &Flag, text: &str) -> Given {
    Given {
        text: text.to_string(),
        from: f.long,
    }
}

fn given_env(name: &'static str, text: &str) -> Given {
    Given {
        text: text.to_string(),
        from: name,
    }
}

/// A boolean environment variable: unset, empty, `0`, `false`, `no`, `off`
/// (any case) are false; anything else (`1`, `True`, `yes`, …) is true.
fn env_flag(env: EnvLookup, name: &str) -> bool {
    match env(name) {
        None => false,
        Some(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        ),
    }
}

/// A variable's value; empty counts as unset.
fn env_value(env: EnvLookup, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

fn take_switch(argv: &mut pico_args::Arguments, f: &Flag) -> bool {
    let mut seen = false;
    for key in f.spellings() {
        while argv.contains(key) {
            seen = true;
        }
    }
    seen
}

/// The value of a single-value flag under any of its spellings.
fn take_value(argv: &mut pico_args::Arguments, f: &Flag) -> Result<Option<Given>, ConfigError> {
    let mut found: Option<(String, &str)> = None;
    for key in f.spellings() {
        while let Some(v) = next_value(argv, key)? {
            if let Some((_, first)) = &found {
                return err(format!(
                    "option {first} given more than once (again as {key})"
                ));
            }
            found = Some((v, key));
        }
    }
    Ok(found.map(|(v, _)| given_flag(f, &v)))
}

fn take_values(argv: &mut pico_args::Arguments, f: &Flag) -> Result<Vec<Given>, ConfigError> {
    let mut all = Vec::new();
    for key in f.spellings() {
        while let Some(v) = next_value(argv, key)? {
            all.push(given_flag(f, &v));
        }
    }
    Ok(all)
}

fn next_value(
    argv: &mut pico_args::Arguments,
    key: &'static str,
) -> Result<Option<String>, ConfigError> {
    match argv.opt_value_from_str::<_, String>(key) {
        Ok(v) => Ok(v),
        Err(pico_args::Error::OptionWithoutAValue(_)) => err(format!("option {key} needs a value")),
        Err(_) => err(format!("option {key} has a value that is not valid UTF-8")),
    }
}
