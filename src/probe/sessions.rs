//! The per-target sessions: a [`DashboardClient`] each (login, cookies,
//! re-login on 401, login back-off), its own lock and its own `miner_*`
//! counters, in a cache of at most `max_sessions` targets. One unused for
//! `session_idle` is dropped, and when the cache is full the least recently
//! used goes, so memory is bounded however many distinct targets are asked
//! for. Nothing runs between probes: idle sessions are swept when one comes.

use super::credentials::Credentials;
use super::target::Target;
use super::Config;
use crate::health::{Health, Voice};
use crate::log::Level;
use crate::miner::{self, client::DashboardClient, MinerState};
use crate::sync::lock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One target's session: the client (its lock is the target's lock) and
/// the state its `miner_*` families are rendered from.
pub(super) struct Session {
    credentials: Arc<Credentials>,
    pub client: Mutex<DashboardClient>,
    pub state: Mutex<TargetState>,
}

pub(super) struct TargetState {
    pub miner: MinerState,
    /// So that a lasting trouble is logged once.
    pub health: Health,
}

struct Entry {
    session: Arc<Session>,
    last_used: Instant,
}

#[derive(Default)]
pub(super) struct Sessions {
    cache: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    pub fn len(&self) -> usize {
        lock(&self.cache).len()
    }

    /// The cached session of `target`, or a new one; sweeps idle sessions
    /// and keeps the cache within its cap.
    pub fn get(
        &self,
        config: &Config,
        target: &Target,
        credentials: Arc<Credentials>,
    ) -> Arc<Session> {
        let key = target.key();
        let now = Instant::now();
        let mut cache = lock(&self.cache);
        let idle = config.session_idle;
        cache.retain(|_, e| now.duration_since(e.last_used) < idle);
        if let Some(entry) = cache.get_mut(&key) {
            // A reloaded credentials file may have changed them: new session.
            if *entry.session.credentials == *credentials {
                entry.last_used = now;
                return Arc::clone(&entry.session);
            }
            cache.remove(&key);
        }
        while cache.len() >= config.max_sessions.max(1) {
            let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            cache.remove(&oldest);
        }
        let session = Arc::new(new_session(config, target, credentials));
        cache.insert(
            key,
            Entry {
                session: Arc::clone(&session),
                last_used: now,
            },
        );
        session
    }
}

fn new_session(config: &Config, target: &Target, credentials: Arc<Credentials>) -> Session {
    let mut client = DashboardClient::new(&miner::Config {
        host: target.authority(),
        username: credentials.username.clone(),
        password: credentials.password.clone(),
        plain_credentials: credentials.plain,
        refresh_interval: config.refresh_interval,
        timeout: config.timeout,
    });
    client.set_timeout(config.timeout);
    Session {
        credentials,
        client: Mutex::new(client),
        state: Mutex::new(TargetState {
            miner: MinerState::default(),
            health: Health::new(Voice {
                who: format!("probe {target}"),
                first_good: None,
                failed: Level::Warn,
                recovered: "dashboard answers well",
            }),
        }),
    }
}
