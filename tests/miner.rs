//! The miner collector end to end: the real binary polls the simulated
//! dashboard over loopback and is scraped over loopback.

use linxdot_sim::dashboard::{Dashboard, Fault};
use linxdot_sim::exporter::{self, Exporter};
use linxdot_sim::text::{family_block, sample};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn start_against(sim: &Dashboard, extra: &[&str]) -> Exporter {
    let host = sim.host();
    let mut args = vec![
        "-o",
        host.as_str(),
        "-u",
        "admin",
        "-p",
        "admin",
        "-r",
        "0.2",
    ];
    args.extend_from_slice(extra);
    Exporter::start(&args, &[])
}

fn up(body: &str) -> Option<f64> {
    sample(body, "miner_up")
}

/// The upstream families, exactly as the Python exporter printed them for
/// this dashboard document.
const UPSTREAM_BLOCK: &str = "\
# HELP miner_exporter_info Miner Information
# TYPE miner_exporter_info gauge
miner_exporter_info{animal_name=\"fancy-lime-wolf\",firmware=\"Linxdot 1.2.26 r17752-8c4a79dd5\",model_name=\"LD-1001\",region=\"AU915\",sn=\"LD1NTV000000001\"} 1.0
# HELP miner_cpu_temp CPU temperature
# TYPE miner_cpu_temp gauge
miner_cpu_temp 35.555
# HELP miner_cpu_usage CPU utilization
# TYPE miner_cpu_usage gauge
miner_cpu_usage 7.169
# HELP miner_mem_usage Memory utilization
# TYPE miner_mem_usage gauge
miner_mem_usage 17.504
# HELP miner_sto_usage Storage utilization
# TYPE miner_sto_usage gauge
miner_sto_usage 39.822
";

#[test]
fn md5_login_and_the_exact_upstream_lines() {
    let sim = Dashboard::start();
    let exp = start_against(&sim, &[]);
    let body = exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    assert!(
        body.contains(UPSTREAM_BLOCK),
        "upstream block missing from:\n{body}"
    );
    // The upstream families come first, in the upstream order.
    assert!(body.starts_with(UPSTREAM_BLOCK), "{body}");
    let s = sim.state();
    assert_eq!(
        s.last_login_body.as_deref(),
        Some("username=21232f297a57a5a743894a0e4a801fc3&password=21232f297a57a5a743894a0e4a801fc3")
    );
    assert!(
        !s.saw_keep_alive_request,
        "every dashboard request must say Connection: close"
    );
}

#[test]
fn plain_credentials_are_form_encoded_not_hashed() {
    let sim = Dashboard::start_on("127.0.0.1:0", "admin", "p@ss w&rd").unwrap();
    sim.state().plain_credentials = true;
    let host = sim.host();
    let exp = Exporter::start(
        &[
            "-o",
            &host,
            "-u",
            "admin",
            "-p",
            "p@ss w&rd",
            "-a",
            "-r",
            "0.2",
        ],
        &[],
    );
    exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    assert_eq!(
        sim.state().last_login_body.as_deref(),
        Some("username=admin&password=p%40ss+w%26rd")
    );
}

#[test]
fn every_cookie_is_sent_back() {
    let sim = Dashboard::start();
    let exp = start_against(&sim, &[]);
    exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    let cookie = sim.state().last_cookie.clone().unwrap();
    assert!(
        cookie.starts_with("sysauth=") && cookie.ends_with("; lang=en"),
        "{cookie}"
    );
}

#[test]
fn an_expired_session_logs_in_again_without_a_failed_poll() {
    let sim = Dashboard::start();
    let exp = start_against(&sim, &[]);
    exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    assert_eq!(sim.state().logins, 1);
    let before = sim.state().system_requests;
    sim.expire_sessions();
    let wait_for = |n: u64| {
        let deadline = std::time::Instant::now() + WAIT;
        while sim.state().system_requests < n {
            assert!(std::time::Instant::now() < deadline, "no more polls");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(before + 4);
    assert_eq!(sim.state().logins, 2, "one new login after the expiry");
    let body = exp.scrape();
    assert_eq!(up(&body), Some(1.0));
    assert!(
        body.contains("miner_poll_errors_total{reason=\"login\"} 0.0"),
        "{body}"
    );
}

#[test]
fn sessions_that_expire_after_every_request_still_give_data() {
    let sim = Dashboard::start();
    sim.set_fault(Fault::ExpireEveryRequest);
    let exp = start_against(&sim, &[]);
    exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    let deadline = std::time::Instant::now() + WAIT;
    while sim.state().logins < 4 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let body = exp.scrape();
    assert_eq!(up(&body), Some(1.0), "{body}");
    assert_eq!(sample(&body, "miner_cpu_temp"), Some(35.555));
}

#[test]
fn numbers_may_be_strings() {
    let sim = Dashboard::start();
    sim.set_system_json(
        r#"{"animal_name":"a","firmware":"f","model_name":"m","region":"r","sn":"s",
            "cpu_temp":"41.5","cpu_usage":"12.34567","memory_usage":" 50 ","storage_usage":"0.0004"}"#,
    );
    let exp = start_against(&sim, &[]);
    let body = exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    assert_eq!(sample(&body, "miner_cpu_temp"), Some(41.5));
    assert!(body.contains("\nminer_cpu_usage 12.346\n"), "{body}");
    assert!(body.contains("\nminer_mem_usage 50.0\n"), "{body}");
    assert!(body.contains("\nminer_sto_usage 0.0\n"), "{body}");
}

#[test]
fn missing_and_ill_typed_keys_leave_their_samples_out_with_a_warning() {
    let sim = Dashboard::start();
    sim.set_system_json(
        r#"{"animal_name":"a","firmware":"f","model_name":"m","region":"r",
            "cpu_usage":"busy","memory_usage":null,"storage_usage":10}"#,
    );
    let exp = start_against(&sim, &[]);
    let body = exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    assert_eq!(
        family_block(&body, "miner_cpu_temp"),
        "# HELP miner_cpu_temp CPU temperature\n# TYPE miner_cpu_temp gauge\n"
    );
    assert_eq!(sample(&body, "miner_cpu_usage"), None);
    assert_eq!(sample(&body, "miner_mem_usage"), None);
    assert_eq!(sample(&body, "miner_sto_usage"), Some(10.0));
    assert!(body.contains("miner_exporter_info{animal_name=\"a\",firmware=\"f\",model_name=\"m\",region=\"r\",sn=\"\"} 1.0"));
    let log = exp.wait_for_log("'cpu_temp' is missing", WAIT);
    assert!(log.contains("WARN miner: dashboard answer incomplete: 'sn' is missing; 'cpu_temp' is missing; 'cpu_usage' is the string \"busy\", not a number; 'memory_usage' is null, not a number"), "{log}");
    // Logged once, not on every poll: wait for three more polls to be done
    // (the dashboard has seen the request of the one after them).
    let polls = sim.state().system_requests;
    let deadline = std::time::Instant::now() + WAIT;
    while sim.state().system_requests < polls + 4 {
        assert!(std::time::Instant::now() < deadline, "no more polls");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        exp.log().matches("dashboard answer incomplete").count(),
        1,
        "{}",
        exp.log()
    );
}

#[test]
fn label_values_are_escaped() {
    let sim = Dashboard::start();
    sim.set_system_json(
        r#"{"animal_name":"say \"hi\"","firmware":"C:\\lin\\x","model_name":"two\nlines","region":"Zürich ✓","sn":"</html>",
            "cpu_temp":1,"cpu_usage":2,"memory_usage":3,"storage_usage":4}"#,
    );
    let exp = start_against(&sim, &[]);
    let body = exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    assert!(
        body.contains(
            "miner_exporter_info{animal_name=\"say \\\"hi\\\"\",firmware=\"C:\\\\lin\\\\x\",model_name=\"two\\nlines\",region=\"Zürich ✓\",sn=\"</html>\"} 1.0\n"
        ),
        "{body}"
    );
}

#[test]
fn a_dashboard_that_is_down_gives_up_zero_and_no_values() {
    // A port that was free a moment ago: connection refused.
    let host = exporter::refused_host();
    let exp = Exporter::start(
        &["-o", &host, "-u", "admin", "-p", "admin", "-r", "0.2"],
        &[],
    );
    let body = exp.scrape_until(WAIT, |b| {
        b.contains("miner_poll_errors_total{reason=\"connection\"} 2.0")
    });
    assert_eq!(up(&body), Some(0.0));
    assert_eq!(sample(&body, "miner_cpu_temp"), None);
    assert_eq!(
        family_block(&body, "miner_exporter_info").lines().count(),
        2
    );
    let log = exp.log();
    assert_eq!(
        log.matches("cannot connect to the dashboard").count(),
        1,
        "{log}"
    );
}

#[test]
fn a_failed_poll_drops_the_values_of_the_last_good_one() {
    let sim = Dashboard::start();
    let exp = start_against(&sim, &[]);
    exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    sim.set_fault(Fault::ServerError);
    let body = exp.scrape_until(WAIT, |b| up(b) == Some(0.0));
    assert_eq!(sample(&body, "miner_cpu_temp"), None, "{body}");
    assert!(!body.contains("miner_exporter_info{"), "{body}");
    assert!(sample(&body, "miner_last_success_timestamp_seconds").is_some());
    sim.set_fault(Fault::None);
    exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    let log = exp.wait_for_log("dashboard data complete again", WAIT);
    assert_eq!(log.matches("answered 500").count(), 1, "{log}");
}

#[test]
fn the_password_never_reaches_the_log() {
    let sim = Dashboard::start_on("127.0.0.1:0", "admin", "s3cr3t-pw").unwrap();
    let host = sim.host();
    let exp = Exporter::start(
        &[
            "-o",
            &host,
            "-u",
            "admin",
            "-p",
            "s3cr3t-pw",
            "-r",
            "0.2",
            "-d",
        ],
        &[],
    );
    exp.scrape_until(WAIT, |b| up(b) == Some(1.0));
    sim.expire_sessions();
    exp.wait_for_log("session expired", WAIT);
    let log = exp.log();
    assert!(
        log.contains("DEBUG"),
        "debug lines expected with -d:\n{log}"
    );
    let md5 = format!("{:x}", md5::compute("s3cr3t-pw"));
    assert!(!log.contains("s3cr3t-pw") && !log.contains(&md5), "{log}");
}

#[test]
fn wrong_credentials_back_off_and_are_logged_once() {
    let sim = Dashboard::start_on("127.0.0.1:0", "admin", "right").unwrap();
    let host = sim.host();
    let exp = Exporter::start(
        &["-o", &host, "-u", "admin", "-p", "Wr0ng-pw", "-r", "0.1"],
        &[],
    );
    let started = std::time::Instant::now();
    exp.scrape_until(WAIT, |b| {
        b.contains("miner_poll_errors_total{reason=\"login_backoff\"} 3.0")
    });
    std::thread::sleep(Duration::from_millis(1500));
    let elapsed = started.elapsed().as_secs_f64();
    let body = exp.scrape();
    assert_eq!(up(&body), Some(0.0));
    // Attempts after failures 1, 2, 3, … wait 0.1, 0.2, 0.4, 0.8, 1.6 s: in
    // `elapsed` seconds at most log2(elapsed / 0.1) + 2 attempts, where
    // polling without backoff would have tried elapsed / 0.1 times.
    let attempts = sim.state().failed_logins;
    let bound = (elapsed / 0.1).log2().floor() as u64 + 2;
    assert!(
        attempts >= 2 && attempts <= bound,
        "{attempts} login attempts in {elapsed:.1}s (bound {bound})"
    );
    let log = exp.log();
    assert_eq!(
        log.matches("login failed: the dashboard at ").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains(&format!(
            " ERROR miner: login failed: the dashboard at {host} refused user 'admin' with \
             MD5-hashed credentials (/login_odd answered 403): check the user and password \
             (-u, -p or --password-file), or add -a if it wants them as typed; retrying after \
             0.1 s, then twice as long after each failure, at most 15 min\n"
        )),
        "{log}"
    );
    let md5 = format!("{:x}", md5::compute("Wr0ng-pw"));
    assert!(!log.contains("Wr0ng-pw") && !log.contains(&md5), "{log}");
}

/// The `miner` row of the landing page's "Not running" section.
fn not_running_row(exp: &Exporter) -> String {
    let page = exp.get("/").body;
    let start = page
        .find("<tr><th>miner</th><td>")
        .unwrap_or_else(|| panic!("no miner row:\n{page}"));
    let cell = &page[start + "<tr><th>miner</th><td>".len()..];
    cell[..cell.find("</td>").unwrap()].to_string()
}

/// With a host or one credential but not the rest, the miner is not polled
/// and the start-up line is a warning naming what is missing (no `miner_*`
/// family is written, so no alert on one can fire); with none of them given
/// it is information. The landing page says the same.
#[test]
fn missing_credentials_are_a_warning_that_names_what_is_missing() {
    const NO_PASSWORD: &str = "no password (-p, --password-file, MINER_PASSWORD or \
                               MINER_PASSWORD_FILE)";
    /// Arguments, environment, the line's level, the reason it gives.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str, &'a str);
    let table: [Case; 6] = [
        (&["-u", "admin"], &[], "WARN", NO_PASSWORD),
        (&[], &[("MINER_USERNAME", "admin")], "WARN", NO_PASSWORD),
        (
            &["-p", "pw-41"],
            &[],
            "WARN",
            "no username (-u or MINER_USERNAME)",
        ),
        (
            &[],
            &[("MINER_PASSWORD", "pw-41")],
            "WARN",
            "no username (-u or MINER_USERNAME)",
        ),
        (
            &["-o", "192.0.2.7"],
            &[],
            "WARN",
            "no username and password (-u, and -p or --password-file)",
        ),
        (&[], &[], "INFO", "no username and password"),
    ];
    for (args, env, level, reason) in table {
        let exp = Exporter::start(args, env);
        let host = if args.contains(&"-o") {
            "192.0.2.7"
        } else {
            "127.0.0.1"
        };
        let why = format!("not polling the dashboard at {host}: {reason}");
        let log = exp.wait_for_log(&format!(" {level} miner: {why}\n"), WAIT);
        assert!(!log.contains("pw-41"), "{log}");
        assert!(!exp.scrape().contains("miner_up"), "{args:?} {env:?}");
        let flags_kept_whole = why
            .replace("(-u ", "(<code>-u</code> ")
            .replace("(-u,", "(<code>-u</code>,")
            .replace("(-p,", "(<code>-p</code>,")
            .replace("-p or", "<code>-p</code> or")
            .replace("--password-file", "<code>--password-file</code>");
        assert_eq!(not_running_row(&exp), flags_kept_whole, "{args:?} {env:?}");
    }
}
