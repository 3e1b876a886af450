//! Basic auth against the bcrypt hashes of `basic_auth_users` (RFC 7617),
//! as exporter-toolkit does it.
//!
//! Three properties matter beyond "the right password gets in":
//! - an unknown user costs the same bcrypt work as a wrong password for a
//!   known one, so response times do not tell which users exist;
//! - bcrypt is slow on purpose, so credentials that already passed are
//!   remembered (by digest) and Prometheus' scrape every few seconds costs
//!   nothing, while wrong ones are never remembered and always pay;
//! - at most one verification per CPU runs at once, so a flood of bad
//!   passwords queues up instead of starving the async workers of CPU.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use hyper::header::AUTHORIZATION;
use hyper::HeaderMap;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// Highest bcrypt cost accepted. Every step doubles the work: cost 10 takes
/// tens of milliseconds per check, 16 already seconds, and 31 (the format's
/// maximum) days, which would turn every wrong password into a hung request.
pub const MAX_COST: u32 = 16;

/// The users of the web config file and what is known about them.
#[derive(Clone, Default)]
pub struct Users {
    hashes: Arc<BTreeMap<String, String>>,
    /// Digests of credentials that already passed bcrypt.
    verified: Arc<Mutex<HashSet<[u8; 32]>>>,
    /// A hash with the users' highest cost that no password matches, checked
    /// for unknown users so that they take as long as known ones.
    dummy: Arc<String>,
    verifying: Option<Arc<Semaphore>>,
}

impl Users {
    /// Checks every hash; `Err` is `user: message`.
    pub fn new(hashes: BTreeMap<String, String>) -> Result<Users, String> {
        let mut cost = 0;
        for (user, hash) in &hashes {
            cost = cost.max(bcrypt_cost(hash).map_err(|e| format!("{user}: {e}"))?);
        }
        if hashes.is_empty() {
            return Ok(Users::default());
        }
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Ok(Users {
            hashes: Arc::new(hashes),
            verified: Default::default(),
            dummy: Arc::new(dummy_hash(cost)),
            verifying: Some(Arc::new(Semaphore::new(cpus))),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// The cost of a bcrypt hash in modular crypt format (`$2y$10$` + 22
/// characters of salt + 31 of hash), refusing anything else: a malformed
/// hash would fail fast for its user, and so tell that the user exists.
fn bcrypt_cost(hash: &str) -> Result<u32, String> {
    let not = || "not a bcrypt hash (expected $2y$<cost>$ and 53 characters, as `htpasswd -nB` prints)";
    let rest = ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))
        .ok_or_else(|| not().to_string())?;
    let (cost, encoded) = rest.split_once('$').ok_or_else(|| not().to_string())?;
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if cost.len() != 2 || encoded.len() != 53 || !encoded.chars().all(alphabet) {
        return Err(not().into());
    }
    let cost: u32 = cost.parse().map_err(|_| not().to_string())?;
    if !(4..=MAX_COST).contains(&cost) {
        return Err(format!("bcrypt cost {cost} is outside 4-{MAX_COST}"));
    }
    Ok(cost)
}

/// A valid hash of `cost` rounds for a password nobody sends. Built from one
/// cheap (cost 4) hash made once, with its cost field replaced: hashing at
/// the real cost would make every load as slow as a login.
fn dummy_hash(cost: u32) -> String {
    static BASE: OnceLock<String> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        bcrypt::hash("ftp_exporter: no such user", 4)
            .unwrap_or_else(|_| "$2b$04$abcdefghijklmnopqrstuu5Ixq9oOtBrQsJ5ZKl3N7UsxNyaNMyV2".into())
    });
    format!("$2b${cost:02}{}", &base[6..])
}

/// Whether `headers` carry the credentials of a configured user; always
/// true when there are none.
pub async fn authorized(users: &Users, headers: &HeaderMap) -> bool {
    let Some(verifying) = &users.verifying else { return true };
    let Some((user, password)) = basic_credentials(headers) else { return false };
    let (known, hash) = match users.hashes.get(&user) {
        Some(h) => (true, h.clone()),
        None => (false, users.dummy.as_ref().clone()),
    };
    let digest: [u8; 32] = Sha256::new()
        .chain_update(&user)
        .chain_update([0])
        .chain_update(&password)
        .chain_update(&hash)
        .finalize()
        .into();
    if users.verified.lock().unwrap_or_else(|e| e.into_inner()).contains(&digest) {
        return true;
    }
    let Ok(_turn) = verifying.acquire().await else { return false };
    let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
        && known;
    if ok {
        let mut verified = users.verified.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a handful of users, each with one password.
        if verified.len() > 1000 {
            verified.clear();
        }
        verified.insert(digest);
    }
    ok
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        h.insert(AUTHORIZATION, format!("Basic {v}").parse().unwrap());
        h
    }

    #[tokio::test]
    async fn basic_auth_with_bcrypt() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let users = Users::new([("prom".to_string(), hash)].into()).unwrap();
        assert!(authorized(&users, &header("prom", "s3cret")).await);
        assert!(authorized(&users, &header("prom", "s3cret")).await, "cached");
        assert!(!authorized(&users, &header("prom", "wrong")).await);
        assert!(!authorized(&users, &header("other", "s3cret")).await);
        assert!(!authorized(&users, &HeaderMap::new()).await);
        assert!(authorized(&Users::default(), &HeaderMap::new()).await);
    }

    #[test]
    fn refuses_what_is_not_a_usable_bcrypt_hash() {
        let good = bcrypt::hash("x", 4).unwrap();
        assert_eq!(bcrypt_cost(&good), Ok(4));
        let at = |cost: &str| format!("$2y${cost}{}", &good[6..]);
        assert_eq!(bcrypt_cost(&at("10")), Ok(10));
        for bad in ["plain", "$2y$10$short", &at("31"), &at("03"), &at("1x"), &format!("{good}x")] {
            assert!(bcrypt_cost(bad).is_err(), "{bad}");
        }
        assert!(bcrypt_cost(&at("31")).unwrap_err().contains("outside 4-16"));
    }

    #[test]
    fn the_dummy_is_a_valid_hash_of_the_users_highest_cost() {
        let users = Users::new(
            [
                ("a".to_string(), bcrypt::hash("x", 4).unwrap()),
                ("b".to_string(), bcrypt::hash("y", 5).unwrap()),
            ]
            .into(),
        )
        .unwrap();
        assert_eq!(bcrypt_cost(&users.dummy), Ok(5));
        assert!(matches!(bcrypt::verify("x", &users.dummy), Ok(false)));
    }
}
