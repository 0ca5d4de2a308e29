//! The real binary against every way its dashboard can fail, over loopback.
//!
//! For each fault: the exporter keeps answering scrapes within a second,
//! says `miner_up 0` (1 where the data is good), serves no value it did not
//! just read, logs one line that names the problem (not one per poll), and
//! stays small after meeting the fault several times.

use linxdot_sim::dashboard::{Dashboard, Fault};
use linxdot_sim::exporter::{self, Exporter};
use linxdot_sim::procfs::{assert_rss_bounded, timed_scrape};
use linxdot_sim::text::{family_block, sample};
use std::time::{Duration, Instant};

/// `-r`: the poll interval, and the unit of the login backoff.
const REFRESH: f64 = 0.3;
/// How often a fault must have been met before the checks.
const TIMES: f64 = 3.0;
/// The longest any case may take to meet its fault `TIMES` times.
const WAIT: Duration = Duration::from_secs(20);

fn exporter_for(host: &str, password: &str) -> Exporter {
    let refresh = REFRESH.to_string();
    Exporter::start(
        &[
            "-o",
            host,
            "-u",
            "admin",
            "-p",
            password,
            "-r",
            &refresh,
            "--timeout",
            "1",
        ],
        &[],
    )
}

/// Scrapes (each within the bound) until `count` polls failed for `reason`.
fn scrape_until_failed(exp: &Exporter, reason: &str, count: f64) -> String {
    let series = format!("miner_poll_errors_total{{reason=\"{reason}\"}}");
    let deadline = Instant::now() + WAIT;
    loop {
        let body = timed_scrape(exp, reason);
        if sample(&body, &series).is_some_and(|n| n >= count) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never reached {count}; last scrape:\n{body}\nlog:\n{}",
            exp.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The log lines at WARN or ERROR level.
fn complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect()
}

/// No sample of any family that comes from the dashboard's data.
fn assert_no_dashboard_values(body: &str, what: &str) {
    assert_eq!(sample(body, "miner_up"), Some(0.0), "{what}:\n{body}");
    for family in [
        "miner_exporter_info",
        "miner_cpu_temp",
        "miner_cpu_usage",
        "miner_mem_usage",
        "miner_sto_usage",
    ] {
        assert_eq!(
            family_block(body, family).lines().count(),
            2,
            "{what}: {family} has a sample:\n{body}"
        );
    }
}

/// One failing dashboard: the poll errors it must count, and the one line
/// the exporter must log about it (`{host}` stands for the dashboard's
/// `host:port`).
struct FailureCase {
    fault: Fault,
    reason: &'static str,
    line: &'static str,
}

/// The dashboard is healthy first, so that there are values to drop, then
/// turns bad (with its sessions forgotten, so that login faults bite too).
fn check_failure(case: FailureCase) {
    let what = format!("{:?}", case.fault);
    let sim = Dashboard::start();
    let exp = exporter_for(&sim.host(), "admin");
    let deadline = Instant::now() + WAIT;
    while sample(&timed_scrape(&exp, &what), "miner_up") != Some(1.0) {
        assert!(
            Instant::now() < deadline,
            "{what}: never up; log:\n{}",
            exp.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    sim.set_fault(case.fault);
    sim.expire_sessions();
    let line = case.line.replace("{host}", &sim.host());
    check_failing_exporter(&exp, &what, case.reason, &line);
    assert_eq!(
        exp.log().matches(" INFO miner: first poll good").count(),
        1,
        "{what}: log:\n{}",
        exp.log()
    );
    let body = timed_scrape(&exp, &what);
    assert!(
        sample(&body, "miner_last_success_timestamp_seconds").is_some(),
        "{what}: the time of the last good poll is kept:\n{body}"
    );
}

fn check_failing_exporter(exp: &Exporter, what: &str, reason: &str, line: &str) {
    let body = scrape_until_failed(exp, reason, TIMES - 1.0);
    assert_no_dashboard_values(&body, what);
    // Again, after the fault has been met once more.
    let body = scrape_until_failed(exp, reason, TIMES);
    assert_no_dashboard_values(&body, what);
    let log = exp.log();
    let complaints = complaints(&log);
    assert_eq!(
        complaints.len(),
        1,
        "{what}: want one complaint, not one per poll; log:\n{log}"
    );
    let want = format!(" ERROR miner: {line}");
    assert!(
        complaints[0].ends_with(&want),
        "{what}: logged {:?}, want it to end with {want:?}",
        complaints[0]
    );
    assert_rss_bounded(exp, what);
}

#[test]
fn connection_refused() {
    let host = exporter::refused_host();
    let exp = exporter_for(&host, "admin");
    // In words, with the system's text kept.
    let line = format!(
        "cannot connect to the dashboard: connection refused by {host}: is the dashboard \
         running, and is that its address (-o)? (Connection refused (os error 111))"
    );
    check_failing_exporter(&exp, "connection refused", "connection", &line);
    let body = timed_scrape(&exp, "connection refused");
    assert_eq!(
        sample(&body, "miner_last_success_timestamp_seconds"),
        None,
        "{body}"
    );
}

#[test]
fn a_request_that_hangs_forever() {
    check_failure(FailureCase {
        fault: Fault::Hang,
        reason: "timeout",
        line: "the dashboard did not answer in time (--timeout): is the miner overloaded?",
    });
}

#[test]
fn http_500() {
    check_failure(FailureCase {
        fault: Fault::ServerError,
        reason: "http",
        line: "dashboard HTTP error: http://{host}/info/system answered 500",
    });
}

#[test]
fn a_body_that_is_not_json() {
    check_failure(FailureCase {
        fault: Fault::NotJson,
        reason: "parse",
        line: "cannot read the dashboard answer: not JSON: Parse error at line:1, col:0: Invalid character: <",
    });
}

#[test]
fn a_64_mib_body_with_content_length() {
    check_failure(FailureCase {
        fault: Fault::HugeBody,
        reason: "too_large",
        line: "dashboard answer larger than 1048576 bytes",
    });
}

#[test]
fn a_64_mib_body_without_content_length() {
    check_failure(FailureCase {
        fault: Fault::HugeBodyUnannounced,
        reason: "too_large",
        line: "dashboard answer larger than 1048576 bytes",
    });
}

#[test]
fn json_nested_200000_deep() {
    check_failure(FailureCase {
        fault: Fault::DeepNesting,
        reason: "parse",
        line: "cannot read the dashboard answer: JSON nested 200000 deep (limit 32)",
    });
}

#[test]
fn a_body_dripped_past_the_timeout() {
    check_failure(FailureCase {
        fault: Fault::Drip,
        reason: "timeout",
        line: "the dashboard did not answer in time (--timeout): is the miner overloaded?",
    });
}

#[test]
fn a_302_on_login_names_its_location() {
    check_failure(FailureCase {
        fault: Fault::LoginRedirect,
        reason: "redirect",
        line: "unexpected redirect: http://{host}/login_odd answered 302 to \
               https://127.0.0.1/login_odd without setting a cookie \
               (the exporter speaks plain http to the dashboard)",
    });
}

#[test]
fn valid_json_without_the_expected_keys() {
    check_failure(FailureCase {
        fault: Fault::MissingKeys,
        reason: "parse",
        line: "cannot read the dashboard answer: no expected key has a usable value: \
               'animal_name' is missing; 'firmware' is missing; 'model_name' is missing; \
               'region' is missing; 'sn' is missing; 'cpu_temp' is missing; \
               'cpu_usage' is missing; 'memory_usage' is missing; 'storage_usage' is missing",
    });
}

/// Faults the exporter works around: the data is good, so all of it is
/// served and nothing is logged above INFO.
fn check_good_data(fault: Fault, logins_at_least: u64) {
    let what = format!("{fault:?}");
    let sim = Dashboard::start();
    sim.set_fault(fault);
    let exp = exporter_for(&sim.host(), "admin");
    let deadline = Instant::now() + WAIT;
    while sim.state().system_requests < TIMES as u64 + 1 || sim.state().logins < logins_at_least {
        assert!(Instant::now() < deadline, "{what}: too few polls");
        timed_scrape(&exp, &what);
        std::thread::sleep(Duration::from_millis(50));
    }
    let deadline = Instant::now() + WAIT;
    let body = loop {
        let body = timed_scrape(&exp, &what);
        if sample(&body, "miner_up") == Some(1.0) {
            break body;
        }
        assert!(Instant::now() < deadline, "{what}: never up:\n{body}");
    };
    assert_eq!(sample(&body, "miner_cpu_temp"), Some(35.555), "{body}");
    assert!(
        body.contains("miner_exporter_info{animal_name=\"fancy-lime-wolf\","),
        "{body}"
    );
    let log = exp.log();
    assert_eq!(complaints(&log), Vec::<&str>::new(), "{what}: log:\n{log}");
    assert_rss_bounded(&exp, &what);
}

#[test]
fn sessions_that_expire_after_every_request() {
    // A new login for every poll, and every poll good.
    check_good_data(Fault::ExpireEveryRequest, TIMES as u64 + 1);
}

#[test]
fn a_302_on_login_that_sets_the_cookie() {
    check_good_data(Fault::LoginRedirectWithCookie, 1);
}

/// src/miner/client.rs: after the n-th failed login in a row the next one
/// waits `refresh × 2^(n-1)`, at most 15 minutes.
fn backoff_after(failures: u32) -> Duration {
    Duration::from_secs_f64(REFRESH * 2f64.powi(failures as i32 - 1))
        .min(Duration::from_secs(15 * 60))
}

#[test]
fn wrong_credentials_back_off_and_do_not_hammer_the_login() {
    let sim = Dashboard::start();
    let exp = exporter_for(&sim.host(), "not-the-password");
    // What was tried (never the password), what to check, when it tries again.
    let line = format!(
        "login failed: the dashboard at {} refused user 'admin' with MD5-hashed credentials \
         (/login_odd answered 403): check the user and password (-u, -p or --password-file), \
         or add -a if it wants them as typed; retrying after 0.3 s, then twice as long after \
         each failure, at most 15 min",
        sim.host()
    );
    check_failing_exporter(&exp, "wrong credentials", "login", &line);

    // Watch the login attempts over a window of several backoff steps.
    let first = *sim.state().login_times.first().expect("a login attempt");
    let window = Duration::from_secs(3);
    while first.elapsed() < window {
        timed_scrape(&exp, "wrong credentials");
        std::thread::sleep(Duration::from_millis(100));
    }
    let times = sim.state().login_times.clone();
    let observed = first.elapsed();
    for (n, pair) in times.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let want = backoff_after(n as u32 + 1);
        assert!(
            gap >= want,
            "login {} came {gap:?} after failure {}, before the backoff of {want:?}",
            n + 2,
            n + 1
        );
    }
    // Attempt k+1 comes at least refresh × (2^k - 1) after the first.
    let bound = 1 + (observed.as_secs_f64() / REFRESH + 1.0).log2().floor() as usize;
    assert!(
        times.len() <= bound,
        "{} login attempts in {observed:?}; the backoff allows {bound}",
        times.len()
    );
    assert!(times.len() >= 3, "the exporter stopped trying: {times:?}");
    assert_eq!(sim.state().logins, 0);
    assert_eq!(
        sim.state().system_requests,
        0,
        "no data request without a session"
    );
    // Still one line for the whole episode, backoff polls included.
    let log = exp.log();
    assert_eq!(complaints(&log).len(), 1, "log:\n{log}");
    let body = timed_scrape(&exp, "wrong credentials");
    assert_no_dashboard_values(&body, "wrong credentials");
    assert_eq!(
        sample(&body, "miner_last_success_timestamp_seconds"),
        None,
        "{body}"
    );
    assert!(
        sample(&body, "miner_poll_errors_total{reason=\"login_backoff\"}").unwrap_or(0.0) >= 1.0,
        "polls during the backoff are counted:\n{body}"
    );
}
