use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{due, timeout_of, Activity, Use};

const T: Duration = Duration::from_secs(2);

fn used(last: Instant) -> Use {
    Use {
        last,
        in_flight: 0,
        parked: false,
    }
}

#[test]
fn a_server_is_due_once_a_whole_timeout_passed_without_a_request() {
    let t0 = Instant::now();
    assert!(!due(&used(t0), T, t0 + T - Duration::from_millis(1)));
    assert!(due(&used(t0), T, t0 + T));
    assert!(due(&used(t0), T, t0 + T * 10));
}

#[test]
fn a_request_in_flight_keeps_a_server_running_however_long_it_takes() {
    let t0 = Instant::now();
    let u = Use {
        in_flight: 1,
        ..used(t0)
    };
    assert!(!due(&u, T, t0 + T * 100));
}

#[test]
fn a_server_stopped_as_idle_is_not_due_again() {
    let t0 = Instant::now();
    let u = Use {
        parked: true,
        ..used(t0)
    };
    assert!(!due(&u, T, t0 + T * 100));
}

#[test]
fn a_clock_read_before_the_last_request_is_not_idle_time() {
    let t0 = Instant::now();
    assert!(!due(&used(t0 + T), T, t0));
}

#[test]
fn the_servers_own_timeout_wins_and_zero_means_never() {
    let s = Duration::from_secs;
    assert_eq!(timeout_of(Some(s(5)), Some(s(60))), Some(s(5)));
    assert_eq!(timeout_of(None, Some(s(60))), Some(s(60)));
    assert_eq!(timeout_of(None, None), None);
    assert_eq!(timeout_of(None, Some(Duration::ZERO)), None);
}

#[test]
fn a_server_never_used_gets_a_whole_timeout_from_when_it_is_first_looked_at() {
    let a = Activity::default();
    let t0 = Instant::now();
    let watched = vec![("c".to_string(), T)];
    assert!(a.due_now(&watched, t0).is_empty());
    assert!(a.due_now(&watched, t0 + T / 2).is_empty());
    assert_eq!(a.due_now(&watched, t0 + T), vec!["c".to_string()]);
}

#[test]
fn a_request_starts_the_timeout_over_and_parking_ends_it() {
    let a = Arc::new(Activity::default());
    let watched = vec![("c".to_string(), Duration::ZERO)];
    let busy = a.begin("c");
    let now = Instant::now() + T;
    assert!(a.due_now(&watched, now).is_empty(), "busy");
    drop(busy);
    assert_eq!(a.due_now(&watched, now + T), vec!["c".to_string()]);
    a.park("c");
    assert!(a.due_now(&watched, now + T * 2).is_empty(), "parked");
    drop(a.begin("c"));
    assert_eq!(a.due_now(&watched, now + T * 3), vec!["c".to_string()]);
}
