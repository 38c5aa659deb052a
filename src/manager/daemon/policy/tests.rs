//! `decide` and `Backoff` with explicit instants: no runtime, no waiting.

use super::*;

const SEC: Duration = Duration::from_secs(1);

fn policy(max_restarts: u32) -> RestartPolicy {
    RestartPolicy {
        backoff: Backoff::try_new(SEC, MAX_BACKOFF).unwrap(),
        max_restarts,
    }
}

/// A record restarted `restarts` times, the last at `at`, with its backoff running.
fn restarted(p: &RestartPolicy, restarts: u32, at: Instant) -> Tracked {
    Tracked {
        restarts,
        last_restart: Some(at),
        next_try: Some(p.next_try(restarts, at)),
        ..Tracked::default()
    }
}

#[test]
fn each_failure_in_a_row_doubles_the_wait_up_to_the_cap() {
    let b = Backoff::try_new(Duration::from_millis(200), Duration::from_secs(1)).unwrap();
    let waits: Vec<u64> = (0..6).map(|n| b.delay(n).as_millis() as u64).collect();
    assert_eq!(waits, [0, 200, 400, 800, 1000, 1000]);
}

#[test]
fn a_huge_failure_count_waits_the_cap_instead_of_overflowing() {
    let b = Backoff::try_new(SEC, MAX_BACKOFF).unwrap();
    assert_eq!(b.delay(u32::MAX), MAX_BACKOFF);
    assert_eq!(b.delay(17), MAX_BACKOFF);
}

#[test]
fn a_backoff_of_zero_or_past_its_cap_is_refused_by_name() {
    let zero = Backoff::try_new(Duration::ZERO, SEC).unwrap_err();
    assert_eq!(zero, BackoffError::ZeroBase);
    assert_eq!(zero.to_string(), "backoff base must be longer than zero");
    let over = Backoff::try_new(Duration::from_secs(2), SEC).unwrap_err();
    assert_eq!(
        over.to_string(),
        "backoff base 2s is longer than its cap 1s"
    );
}

#[test]
fn the_configured_backoff_is_capped_like_the_restarts_it_spaces() {
    let cfg = |ms| DaemonConfig {
        resync_secs: 30,
        update_policy: crate::reconcile::UpdatePolicy::Recreate,
        max_restarts: 4,
        backoff_ms: ms,
        debounce_ms: 0,
        max_removals: 20,
        idle_timeout: None,
    };
    let p = RestartPolicy::from_config(&cfg(600_000));
    assert_eq!(p.backoff.delay(1), MAX_BACKOFF);
    assert_eq!(p.max_restarts, 4);
    let fallback = RestartPolicy::from_config(&cfg(0));
    assert_eq!(fallback.backoff, Backoff::FALLBACK);
}

#[test]
fn a_container_down_for_the_first_time_is_restarted_at_once() {
    let now = Instant::now();
    let d = policy(3).decide(&Tracked::default(), Seen::Down, now);
    assert_eq!(d, Decision::Restart);
}

#[test]
fn a_container_down_again_waits_until_its_backoff_is_over() {
    let p = policy(3);
    let t0 = Instant::now();
    let t = restarted(&p, 2, t0);
    let until = t0 + 2 * SEC;
    assert_eq!(p.decide(&t, Seen::Down, t0), Decision::Wait { until });
    assert_eq!(
        p.decide(&t, Seen::Down, until - Duration::from_millis(1)),
        Decision::Wait { until }
    );
    assert_eq!(p.decide(&t, Seen::Down, until), Decision::Restart);
}

#[test]
fn an_unhealthy_container_is_restarted_like_a_stopped_one() {
    let p = policy(3);
    let t0 = Instant::now();
    let t = restarted(&p, 1, t0);
    assert_eq!(
        p.decide(&t, Seen::Unhealthy, t0),
        Decision::Wait { until: t0 + SEC }
    );
    assert_eq!(p.decide(&t, Seen::Unhealthy, t0 + SEC), Decision::Restart);
}

#[test]
fn after_max_restarts_the_next_failure_gives_up_once_the_backoff_is_over() {
    let p = policy(2);
    let t0 = Instant::now();
    let t = restarted(&p, 2, t0);
    assert!(matches!(
        p.decide(&t, Seen::Down, t0),
        Decision::Wait { .. }
    ));
    assert_eq!(p.decide(&t, Seen::Down, t0 + 2 * SEC), Decision::GiveUp);
}

#[test]
fn with_no_restarts_allowed_the_first_failure_gives_up() {
    let d = policy(0).decide(&Tracked::default(), Seen::Down, Instant::now());
    assert_eq!(d, Decision::GiveUp);
}

#[test]
fn a_failed_container_is_left_alone_whatever_is_seen() {
    let p = policy(2);
    let t = Tracked {
        health: Health::Failed,
        restarts: 2,
        ..Tracked::default()
    };
    let now = Instant::now() + FORGIVE * 2;
    for seen in [Seen::Running, Seen::Unhealthy, Seen::Down] {
        assert_eq!(p.decide(&t, seen, now), Decision::LeaveAlone);
    }
    assert!(held(&t, now));
}

#[test]
fn a_quiet_running_stretch_of_forgive_since_the_last_restart_forgives() {
    let p = policy(3);
    let t0 = Instant::now();
    let t = restarted(&p, 3, t0);
    let almost = t0 + FORGIVE - Duration::from_millis(1);
    assert_eq!(p.decide(&t, Seen::Running, almost), Decision::Keep);
    assert_eq!(p.decide(&t, Seen::Running, t0 + FORGIVE), Decision::Forgive);
}

#[test]
fn an_unhealthy_stretch_is_not_quiet_and_forgives_nothing() {
    let p = policy(3);
    let t0 = Instant::now();
    let t = restarted(&p, 3, t0);
    assert_eq!(
        p.decide(&t, Seen::Unhealthy, t0 + FORGIVE),
        Decision::GiveUp
    );
}

#[test]
fn a_running_container_never_restarted_is_kept() {
    let d = policy(3).decide(&Tracked::default(), Seen::Running, Instant::now());
    assert_eq!(d, Decision::Keep);
}

#[test]
fn what_is_seen_comes_from_running_and_the_last_health() {
    assert_eq!(Seen::of(false, Health::Healthy), Seen::Down);
    assert_eq!(Seen::of(true, Health::Unhealthy), Seen::Unhealthy);
    assert_eq!(Seen::of(true, Health::Unknown), Seen::Running);
    assert_eq!(Seen::of(true, Health::Healthy), Seen::Running);
}

#[test]
fn a_pending_backoff_holds_a_container_from_the_planner_until_it_is_over() {
    let t0 = Instant::now();
    let t = Tracked {
        next_try: Some(t0 + SEC),
        ..Tracked::default()
    };
    assert!(held(&t, t0));
    assert!(!held(&t, t0 + SEC));
    assert!(!held(&Tracked::default(), t0));
}
