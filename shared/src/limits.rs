//! The limits both sides check, each defined once: the backend refuses a
//! request past one with the sentence given here, and the browser refuses
//! the same input before sending it, with the same sentence, so a person
//! never learns of a limit only from a failed request.

/// Shortest lease etcdeck grants, in seconds.
pub const MIN_LEASE_TTL: i64 = 1;
/// Longest lease etcdeck grants, in seconds: 30 days. etcd itself accepts
/// far longer leases (`MaxLeaseTTL`, about 285 years), but a lease meant to
/// outlive a month is a mistake more often than not, and one granted from a
/// dashboard is kept alive by no one.
pub const MAX_LEASE_TTL: i64 = 30 * 24 * 3600;

/// Largest value etcdeck sends to etcd. etcd refuses requests over its
/// `--max-request-bytes` (1.5 MiB by default); a value this size plus its
/// key and the transaction around it stays under that.
pub const MAX_VALUE_BYTES: usize = 1_500_000;

/// Largest page of a level the backend returns; larger `limit`s are clamped.
pub const MAX_LEVEL_PAGE: usize = 5_000;
/// Page size used when a request names none.
pub const DEFAULT_LEVEL_PAGE: usize = 1_000;

/// Why a lease TTL of `ttl` seconds is refused, or `None` when it is
/// within [`MIN_LEASE_TTL`]..=[`MAX_LEASE_TTL`].
pub fn lease_ttl_error(ttl: i64) -> Option<String> {
    if ttl < MIN_LEASE_TTL {
        Some(format!(
            "a lease's TTL must be at least {MIN_LEASE_TTL} second, not {ttl}"
        ))
    } else if ttl > MAX_LEASE_TTL {
        Some(format!(
            "a lease's TTL can be at most {MAX_LEASE_TTL} seconds (30 days), not {ttl}"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ttls_from_one_second_to_thirty_days_pass() {
        assert_eq!(lease_ttl_error(1), None);
        assert_eq!(lease_ttl_error(60), None);
        assert_eq!(lease_ttl_error(MAX_LEASE_TTL), None);
        assert_eq!(MAX_LEASE_TTL, 2_592_000);
    }

    #[test]
    fn lease_ttls_outside_are_refused_with_the_limits_and_the_value() {
        expect_test::expect![[
            r#"a lease's TTL can be at most 2592000 seconds (30 days), not 2592001"#
        ]]
        .assert_eq(&lease_ttl_error(MAX_LEASE_TTL + 1).unwrap_or_default());
        expect_test::expect![[r#"a lease's TTL must be at least 1 second, not 0"#]]
            .assert_eq(&lease_ttl_error(0).unwrap_or_default());
        assert!(lease_ttl_error(-5).is_some());
        assert!(lease_ttl_error(i64::MAX).is_some());
    }
}
