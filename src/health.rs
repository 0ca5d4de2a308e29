//! A poller's health in the log: one line when trouble starts or changes,
//! one when it ends, nothing while it lasts. The miner poller, `/probe`'s
//! targets (and next the LoRa collector) each keep one [`Health`].

use crate::log::{log, Level};

/// What one poll came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Good,
    /// Data, but with something missing or wrong (a warning).
    Degraded(String),
    /// No data.
    Failed(String),
    /// Nothing tried, for a reason already logged (a back-off): not news,
    /// and its text may change at every poll, so only a debug line.
    Waiting(String),
}

/// How a poller speaks about its health.
pub struct Voice {
    /// The prefix of each line (`miner`, `probe 10.0.0.1`).
    pub who: String,
    /// Said after a first poll that is good; `None`: nothing is said.
    pub first_good: Option<&'static str>,
    /// The level of a failed poll's line.
    pub failed: Level,
    /// Said when the trouble ends.
    pub recovered: &'static str,
}

pub struct Health {
    voice: Voice,
    /// The trouble last logged; `None` while all is well.
    last: Option<String>,
    polled: bool,
}

impl Health {
    pub fn new(voice: Voice) -> Health {
        Health {
            voice,
            last: None,
            polled: false,
        }
    }

    /// Takes in one poll's outcome, and logs it if it is news; returns the
    /// line logged (without the prefix), if any.
    pub(crate) fn observe(&mut self, outcome: Outcome) -> Option<(Level, String)> {
        let line = self.news(outcome)?;
        log(line.0, format_args!("{}: {}", self.voice.who, line.1));
        Some(line)
    }

    fn news(&mut self, outcome: Outcome) -> Option<(Level, String)> {
        let first = !self.polled;
        self.polled = true;
        let (complaint, level) = match outcome {
            Outcome::Good => (None, Level::Info),
            Outcome::Degraded(c) => (Some(c), Level::Warn),
            Outcome::Failed(c) => (Some(c), self.voice.failed),
            Outcome::Waiting(c) => return Some((Level::Debug, c)),
        };
        let announce_first = first && self.voice.first_good.is_some();
        if complaint == self.last && !announce_first {
            return None;
        }
        let was_bad = self.last.is_some();
        self.last = complaint.clone();
        match (complaint, was_bad, self.voice.first_good) {
            (Some(c), _, _) => Some((level, c)),
            (None, true, _) => Some((Level::Info, self.voice.recovered.to_string())),
            (None, false, said) => said.map(|said| (Level::Info, said.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(first_good: Option<&'static str>) -> Voice {
        Voice {
            who: "t".into(),
            first_good,
            failed: Level::Error,
            recovered: "well again",
        }
    }

    /// Once when trouble starts, once when it changes, once when it ends;
    /// a back-off is a debug line and changes nothing.
    #[test]
    fn news_only() {
        let mut h = Health::new(voice(Some("first good")));
        let line = |l: Level, t: &str| Some((l, t.to_string()));
        let fail = |t: &str| Outcome::Failed(t.into());
        assert_eq!(h.observe(Outcome::Good), line(Level::Info, "first good"));
        assert_eq!(h.observe(Outcome::Good), None);
        assert_eq!(h.observe(fail("down")), line(Level::Error, "down"));
        assert_eq!(h.observe(fail("down")), None);
        assert_eq!(
            h.observe(Outcome::Waiting("backing off 3s".into())),
            line(Level::Debug, "backing off 3s")
        );
        assert_eq!(h.observe(fail("down")), None);
        assert_eq!(
            h.observe(Outcome::Degraded("half".into())),
            line(Level::Warn, "half")
        );
        assert_eq!(h.observe(Outcome::Good), line(Level::Info, "well again"));
        assert_eq!(h.observe(Outcome::Good), None);
    }

    /// Without a first-good line, a first good poll says nothing, and a
    /// first bad one is news.
    #[test]
    fn a_quiet_start() {
        let mut h = Health::new(voice(None));
        assert_eq!(h.observe(Outcome::Good), None);
        let mut h = Health::new(voice(None));
        assert_eq!(
            h.observe(Outcome::Failed("x".into())),
            Some((Level::Error, "x".to_string()))
        );
        assert_eq!(h.observe(Outcome::Failed("x".into())), None);
    }
}
