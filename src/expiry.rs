//! The one place that decides when a token expires (docs/DESIGN.md, "Expiry and refresh").
//!
//! Times are absolute milliseconds since the epoch; `None` means "never
//! expires". Pure: the store applies what these functions decide.

use crate::record::Ttl;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshMode {
    None,
    Token,
    User,
}

/// The expiry configs, read once per command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub default_ttl: u64,
    pub refresh: RefreshMode,
    pub refresh_persistent: bool,
    pub refresh_interval: u64,
    pub max_lifetime: u64,
}

impl Policy {
    /// The instant after which no refresh may carry the token.
    pub fn deadline(&self, created: u64) -> Option<u64> {
        (self.max_lifetime > 0).then(|| created.saturating_add(self.max_lifetime * 1000))
    }

    /// A token past its absolute lifetime is dead whatever its TTL says.
    pub fn past_deadline(&self, created: u64, now: u64) -> bool {
        self.deadline(created).is_some_and(|d| now >= d)
    }

    /// The earlier of an expiry and the token's deadline.
    pub fn cap(&self, created: u64, expiry: Option<u64>) -> Option<u64> {
        match (expiry, self.deadline(created)) {
            (Some(e), Some(d)) => Some(e.min(d)),
            (None, d) => d,
            (e, None) => e,
        }
    }

    fn after(now: u64, secs: u64) -> Option<u64> {
        Some(now.saturating_add(secs.saturating_mul(1000)))
    }

    /// Expiry of a token created now.
    pub fn initial(&self, ttl: Ttl, now: u64) -> Option<u64> {
        let secs = match ttl {
            Ttl::Default => self.default_ttl,
            Ttl::Explicit(secs) => secs as u64,
        };
        let expiry = if secs > 0 {
            Self::after(now, secs)
        } else {
            None
        };
        self.cap(now, expiry)
    }

    /// Seconds a refresh slides this token's expiry by; 0 = it has none
    /// to slide (an immortal token without `refresh-persistent`).
    pub fn slide_secs(&self, ttl: Ttl) -> u64 {
        let own = match ttl {
            Ttl::Default => self.default_ttl,
            Ttl::Explicit(secs) => secs as u64,
        };
        if own > 0 {
            own
        } else if ttl == Ttl::Explicit(0) && self.refresh_persistent {
            self.default_ttl
        } else {
            0
        }
    }

    /// Whether a VERIFY at `now` may rewrite this token (last use, expiry):
    /// at most once per `refresh-interval`, and at least twice per sliding
    /// TTL, so that a token used more often than its TTL never expires
    /// (docs/DESIGN.md, "Expiry and refresh"): with writes every `I <= TTL/2`
    /// at the first use past `I`, any use within `TTL` of the last write
    /// finds the token alive and slides it again.
    pub fn due(&self, ttl: Ttl, last_used: u64, now: u64) -> bool {
        let mut interval = self.refresh_interval.saturating_mul(1000);
        let slide = self.slide_secs(ttl);
        if slide > 0 {
            interval = interval.min(slide.saturating_mul(1000) / 2);
        }
        now.saturating_sub(last_used) >= interval
    }

    /// Whether a token is live at `now`: its expiry (the index score) is
    /// ahead and it is not past its max-lifetime deadline.
    pub fn live(&self, created: u64, expiry: Option<u64>, now: u64) -> bool {
        expiry.is_none_or(|e| e > now) && !self.past_deadline(created, now)
    }

    /// The expiry a refresh at `now` gives a token whose expiry is `current`.
    /// Returns `None` when nothing changes.
    ///
    /// - A token with an expiry slides by its own TTL; one that follows the
    ///   default slides by the current `default-ttl` (0: it becomes immortal,
    ///   as the seed's TIMEOUT=None did).
    /// - A token without expiry stays so, unless `refresh-persistent` is set:
    ///   then it gets its own TTL, or `default-ttl` if it has none.
    /// - Nothing goes past `created + max-lifetime`.
    pub fn refreshed(
        &self,
        ttl: Ttl,
        created: u64,
        current: Option<u64>,
        now: u64,
    ) -> Option<Option<u64>> {
        let own = match ttl {
            Ttl::Default => self.default_ttl,
            Ttl::Explicit(secs) => secs as u64,
        };
        let fallback = if own > 0 { own } else { self.default_ttl };
        let next = match current {
            Some(_) if own > 0 => Self::after(now, own),
            Some(_) if ttl == Ttl::Default => None,
            // TTL 0 given an expiry by an earlier persistent refresh.
            Some(_) if self.refresh_persistent && fallback > 0 => Self::after(now, fallback),
            Some(e) => Some(e),
            None if self.refresh_persistent && fallback > 0 => Self::after(now, fallback),
            None => None,
        };
        let next = self.cap(created, next);
        (next != current).then_some(next)
    }
}

/// The latest instant the module writes as an expiry or time: 2^48 - 1 ms
/// (year 10889), the range of the record's time fields. Anything later,
/// such as a crafted index score, is clamped to it before it is applied, and
/// the clamped value is what replicas and the AOF receive.
pub const MAX_MS: u64 = (1 << 48) - 1;

/// An expiry as the module applies and replicates it.
pub fn clamp(at: Option<u64>) -> Option<u64> {
    at.map(|t| t.min(MAX_MS))
}

/// An index score read back as an expiry (+inf: none; NaN or below 0: 0).
pub fn from_score(score: f64) -> Option<u64> {
    if score == f64::INFINITY {
        None
    } else if score.is_nan() || score <= 0.0 {
        Some(0)
    } else {
        Some((score as u64).min(MAX_MS))
    }
}

/// The score of a token in its user's index: its expiry, +inf for none.
pub fn score(expiry: Option<u64>) -> f64 {
    expiry.map_or(f64::INFINITY, |e| e as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn policy() -> Policy {
        Policy {
            default_ttl: 0,
            refresh: RefreshMode::Token,
            refresh_persistent: true,
            refresh_interval: 60,
            max_lifetime: 0,
        }
    }

    const CREATED: u64 = NOW - 10_000;

    #[test]
    fn initial_expiry_uses_default_or_explicit_ttl() {
        let mut p = policy();
        assert_eq!(p.initial(Ttl::Default, NOW), None);
        p.default_ttl = 1000;
        assert_eq!(p.initial(Ttl::Default, NOW), Some(NOW + 1_000_000));
        assert_eq!(p.initial(Ttl::Explicit(5), NOW), Some(NOW + 5000));
        assert_eq!(p.initial(Ttl::Explicit(0), NOW), None);
    }

    #[test]
    fn max_lifetime_caps_initial_and_refreshed_expiry() {
        let mut p = policy();
        p.max_lifetime = 100;
        assert_eq!(p.initial(Ttl::Explicit(0), NOW), Some(NOW + 100_000));
        assert_eq!(p.initial(Ttl::Explicit(10), NOW), Some(NOW + 10_000));
        let r = Ttl::Explicit(1000);
        let deadline = CREATED + 100_000;
        assert_eq!(
            p.refreshed(r, CREATED, Some(NOW + 5), NOW),
            Some(Some(deadline))
        );
        assert!(p.past_deadline(CREATED, deadline));
        assert!(!p.past_deadline(CREATED, deadline - 1));
    }

    #[test]
    fn refresh_slides_own_ttl() {
        let p = policy();
        let r = Ttl::Explicit(30);
        assert_eq!(
            p.refreshed(r, CREATED, Some(NOW + 1), NOW),
            Some(Some(NOW + 30_000))
        );
        assert_eq!(p.refreshed(r, CREATED, Some(NOW + 30_000), NOW), None);
    }

    #[test]
    fn default_following_token_takes_the_current_default() {
        let mut p = policy();
        p.default_ttl = 2000;
        let r = Ttl::Default;
        assert_eq!(
            p.refreshed(r, CREATED, Some(NOW + 1), NOW),
            Some(Some(NOW + 2_000_000))
        );
        // TIMEOUT changed to None: the token becomes immortal (seed behaviour).
        p.default_ttl = 0;
        assert_eq!(p.refreshed(r, CREATED, Some(NOW + 1), NOW), Some(None));
    }

    #[test]
    fn immortal_tokens_get_a_ttl_only_with_refresh_persistent() {
        let mut p = policy();
        p.default_ttl = 1000;
        for ttl in [Ttl::Default, Ttl::Explicit(0)] {
            let r = ttl;
            p.refresh_persistent = true;
            assert_eq!(
                p.refreshed(r, CREATED, None, NOW),
                Some(Some(NOW + 1_000_000))
            );
            p.refresh_persistent = false;
            assert_eq!(p.refreshed(r, CREATED, None, NOW), None);
        }
        // Nothing to give when the default is "never" either.
        p.default_ttl = 0;
        p.refresh_persistent = true;
        assert_eq!(p.refreshed(Ttl::Explicit(0), CREATED, None, NOW), None);
    }

    #[test]
    fn refresh_is_due_once_per_interval() {
        let p = policy();
        let long = Ttl::Explicit(3600);
        assert!(!p.due(long, NOW - 59_999, NOW));
        assert!(p.due(long, NOW - 60_000, NOW));
        let mut every = p;
        every.refresh_interval = 0;
        assert!(every.due(long, NOW, NOW));
    }

    #[test]
    fn short_ttls_are_due_twice_per_ttl_whatever_the_interval() {
        let mut p = policy();
        p.refresh_interval = 3;
        let two = Ttl::Explicit(2);
        assert!(!p.due(two, NOW - 999, NOW));
        assert!(p.due(two, NOW - 1000, NOW));
        // The default 60 s interval and a TTL of 60 s: due after 30 s.
        p.refresh_interval = 60;
        assert!(p.due(Ttl::Explicit(60), NOW - 30_000, NOW));
        // A default-following token slides by the current default.
        p.default_ttl = 10;
        assert!(p.due(Ttl::Default, NOW - 5_000, NOW));
        // Nothing to slide: the interval alone.
        p.default_ttl = 0;
        assert!(!p.due(Ttl::Explicit(0), NOW - 59_000, NOW));
    }

    /// Simulated use every `every` ms under every interval: a token used
    /// more often than its TTL never expires.
    #[test]
    fn a_token_used_more_often_than_its_ttl_never_expires() {
        for ttl_s in [1u32, 2, 3, 59, 60, 61, 119, 120] {
            for interval in [0u64, 1, 3, 60, 600] {
                let mut p = policy();
                p.refresh_interval = interval;
                let ttl = Ttl::Explicit(ttl_s);
                let ttl_ms = ttl_s as u64 * 1000;
                for every in [ttl_ms / 7 + 1, ttl_ms / 2, ttl_ms - 1] {
                    let (mut last_write, mut expiry) = (NOW, NOW + ttl_ms);
                    let mut t = NOW;
                    for _ in 0..200 {
                        t += every;
                        assert!(
                            t < expiry,
                            "ttl {ttl_s}s interval {interval}s every {every}ms"
                        );
                        if p.due(ttl, last_write, t) {
                            last_write = t;
                            expiry = t + ttl_ms;
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn crafted_scores_clamp_to_the_time_range() {
        assert_eq!(from_score(1e20), Some(MAX_MS));
        assert_eq!(from_score(-5.0), Some(0));
        assert_eq!(from_score(f64::INFINITY), None);
        assert_eq!(from_score(1234.0), Some(1234));
        assert_eq!(clamp(Some(u64::MAX)), Some(MAX_MS));
        assert_eq!(clamp(None), None);
    }

    #[test]
    fn liveness_counts_the_deadline() {
        let mut p = policy();
        assert!(p.live(CREATED, None, NOW));
        assert!(!p.live(CREATED, Some(NOW), NOW));
        p.max_lifetime = 1;
        assert!(!p.live(CREATED, Some(NOW + 5000), NOW));
    }

    #[test]
    fn scores_are_expiry_or_infinity() {
        assert_eq!(score(None), f64::INFINITY);
        assert_eq!(score(Some(5)), 5.0);
    }
}
