//! The Nuxt format of `neptun-session`: the web app's own h3 session, sealed with iron.
//!
//! The Neptun web app signs users in through `nuxt-auth-utils`, which keeps h3's session
//! object in this cookie, sealed with iron (`Fe26.2`, see [`crate::iron`]) under
//! `NUXT_SESSION_PASSWORD`:
//!
//! ```json
//! {"id":"<uuid>","createdAt":1714557600000,"data":{"user":{"id":7,"primary_email":"a@b.co"},"loggedInAt":"2024-05-01T10:00:00.000Z"}}
//! ```
//!
//! The session's user is `data.user.id` (a JSON number; anything else is no session).
//!
//! **The stamp.** The web app's session plugin re-seals `{user, loggedInAt: now}` on every
//! session fetch, so `loggedInAt` proves nothing and only what lies inside `data.user` is sure
//! to survive the app. Every session the function issues or refreshes therefore carries, in
//! `data.user`, [`STAMP_VERSION`] (the user's session version, an integer) and
//! [`STAMP_LOGGED_IN_AT`] (the login time, integer epoch milliseconds). A stamped session is
//! judged by its stamp alone. An unstamped one (made by the app's own login) has the login
//! time `data.loggedInAt` (an ISO 8601 time or epoch milliseconds), else `createdAt`, and is
//! refused unless `NUXT_UNSTAMPED_SESSIONS=accept`. A refresh keeps the object as it was
//! (same `id`, `createdAt`, `loggedInAt`, every other key of `data` and `data.user`), sets
//! `data.user.primary_email` to the stored address, and stamps it.

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::marker::PhantomData;

use super::{COOKIE_NAME, FormatFields, Session};
use crate::clock::{format_time_ms, parse_time_ms};
use crate::domain::UserId;
use crate::iron::{self, IronPassword};
use crate::json::Members;

/// The key of `data.user` that holds the user's session version (an integer).
pub const STAMP_VERSION: &str = "session_version";
/// The key of `data.user` that holds the session's login time (integer epoch milliseconds).
pub const STAMP_LOGGED_IN_AT: &str = "logged_in_at";

/// The Nuxt format's passwords: the current one seals, every one opens.
pub(super) struct Sealing {
    /// Current first, then the previous ones.
    passwords: Vec<IronPassword>,
}

impl Sealing {
    /// Derives what each password needs once, at start. `Config` has checked their length.
    pub(super) fn new(current: &str, previous: &[&str]) -> Self {
        let passwords = std::iter::once(current)
            .chain(previous.iter().copied())
            .map(|password| {
                IronPassword::new(password).expect("BUG: Config refuses passwords iron refuses")
            })
            .collect();
        Self { passwords }
    }

    /// The session in an authentic, unexpired seal holding an h3 session object with a
    /// numeric user id; the absolute age limit is the caller's check. `max_age_ms` bounds
    /// a seal that has no expiration of its own.
    pub(super) fn open(&self, value: &str, now_ms: i64, max_age_ms: i64) -> Option<Session> {
        let opened = iron::unseal(value, &self.passwords, now_ms)?;
        let object = SessionObject::parse(&opened.plaintext)?;
        let created_at = scalar(&object.top, "createdAt")?.and_then(|v| v.as_i64());
        let user_id = UserId::new(scalar(&object.user, "id")??.as_u64()?)?;
        let email = match scalar(&object.user, "primary_email")? {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(email)) => email,
            Some(_) => return None,
        };
        let app_login_ms = match scalar(&object.data, "loggedInAt")? {
            None | Some(Value::Null) => created_at?,
            Some(Value::String(time)) => parse_time_ms(&time)?,
            Some(number) => number.as_i64()?,
        };
        // Both keys or neither: half a stamp, or one of the wrong type, is no session.
        let stamp = (
            scalar(&object.user, STAMP_VERSION)?,
            scalar(&object.user, STAMP_LOGGED_IN_AT)?,
        );
        let (version, login_at_ms) = match stamp {
            (None, None) => (None, app_login_ms),
            (Some(version), Some(login)) => (Some(version.as_u64()?), login.as_i64()?),
            _ => return None,
        };
        let id = match scalar(&object.top, "id")? {
            Some(Value::String(id)) if !id.is_empty() => id,
            _ => format!("created:{}", created_at.unwrap_or(login_at_ms)),
        };
        let limit = login_at_ms.saturating_add(max_age_ms);
        Some(Session {
            user_id,
            email,
            login_at_ms,
            issued_at_ms: created_at.unwrap_or(login_at_ms),
            expires_at_ms: opened.expires_at_ms.map_or(limit, |at| at.min(limit)),
            version,
            id,
            format_fields: FormatFields::Nuxt {
                object: Box::new(object),
                app_login_ms,
            },
        })
    }

    /// `neptun-session=<seal>`: the object sealed with the current password, iron's
    /// expiration set to `expires_at_ms`.
    pub(super) fn seal(&self, object: &SessionObject, expires_at_ms: i64) -> String {
        let json = object.to_json();
        let sealed = iron::seal(&json, &self.passwords[0], Some(expires_at_ms));
        // Room for the attributes `set_cookie` appends.
        let mut pair = String::with_capacity(COOKIE_NAME.len() + 1 + sealed.len() + 64);
        pair.push_str(COOKIE_NAME);
        pair.push('=');
        pair.push_str(&sealed);
        pair
    }
}

/// The object a sign-in makes: what the web app's `setUserSession(event, {user, loggedInAt})`
/// makes, with the stamp in `data.user`.
pub(super) fn new_session_object(
    id: &str,
    user_id: UserId,
    email: &str,
    version: u64,
    now_ms: i64,
) -> SessionObject {
    let object = json!({
        "id": id,
        "createdAt": now_ms,
        "data": {
            "user": {
                "id": user_id.get(),
                "primary_email": email,
                STAMP_VERSION: version,
                STAMP_LOGGED_IN_AT: now_ms,
            },
            "loggedInAt": format_time_ms(now_ms),
        },
    });
    SessionObject::from_value(&object)
}

/// The h3 session object, opened as far as the function reads it and no further, in one pass:
/// the members of the top level, of `data` and of `data.user`, in order, each other value kept
/// as the JSON text it was. A refresh rewrites members of `data.user`; every other byte stays
/// as the app wrote it. (Parsing the whole object into a `serde_json::Value` tree and writing
/// it back took about a fifth of a Nuxt-mode request's CPU.)
///
/// A `data` key twice at the top, or `user` twice in `data`, is no session: `JSON.stringify`
/// never writes one. Any other repeated key keeps its first place and its last value, as
/// `JSON.parse` reads it.
#[derive(Clone, PartialEq)]
pub(super) struct SessionObject {
    /// The top level; `data`'s entry stands for [`SessionObject::data`].
    top: Members<Member>,
    /// `data`; `user`'s entry stands for [`SessionObject::user`].
    data: Members<Member>,
    user: Members<Member>,
}

/// A member's value: its JSON text, or the nested object kept beside it.
#[derive(Clone)]
enum Member {
    Raw(Box<RawValue>),
    Nested,
}

/// Any JSON value, kept as its text.
impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self::Raw)
    }
}

impl PartialEq for Member {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Raw(a), Self::Raw(b)) => a.get() == b.get(),
            (Self::Nested, Self::Nested) => true,
            _ => false,
        }
    }
}

impl SessionObject {
    /// `None` unless `json` is an object whose `data` and `data.user` are objects.
    fn parse(json: &[u8]) -> Option<Self> {
        serde_json::from_slice(json).ok()
    }

    fn from_value(object: &Value) -> Self {
        let json = serde_json::to_vec(object).expect("BUG: a JSON value always serializes");
        Self::parse(&json).expect("BUG: built with data.user")
    }

    /// `data`, as JSON.
    pub(super) fn data_json(&self) -> String {
        serde_json::to_string(&DataView(self)).expect("BUG: a JSON object always serializes")
    }

    /// The whole object, as JSON.
    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&TopView(self)).expect("BUG: a JSON object always serializes")
    }

    /// Sets the stored address and, when the version is known, the stamp (the version and
    /// `login_ms`); leaves everything else as it was.
    pub(super) fn refresh(&mut self, email: &str, version: Option<u64>, login_ms: i64) {
        self.user.insert("primary_email".to_owned(), raw(&email));
        if let Some(version) = version {
            self.user.insert(STAMP_VERSION.to_owned(), raw(&version));
            self.user
                .insert(STAMP_LOGGED_IN_AT.to_owned(), raw(&login_ms));
        }
    }

    /// The whole object as a JSON value.
    #[cfg(test)]
    fn to_value(&self) -> Value {
        serde_json::from_slice(&self.to_json()).expect("BUG: it was just written")
    }
}

/// `value` as JSON text.
fn raw<T: Serialize + ?Sized>(value: &T) -> Member {
    Member::Raw(serde_json::value::to_raw_value(value).expect("BUG: strings and numbers serialize"))
}

/// A member's value, parsed, for the scalars the session is judged by: `Some(None)` when the
/// member is absent, `None` when it is there but no `serde_json::Value` reads it (a lone
/// surrogate escape, a number past `f64`), which is no session, as when the whole object
/// was parsed at once.
fn scalar(members: &Members<Member>, key: &str) -> Option<Option<Value>> {
    match members.get(key) {
        Some(Member::Raw(raw)) => serde_json::from_str(raw.get()).ok().map(Some),
        _ => Some(None),
    }
}

/// Writes `members`, `nested` in place of the one that stands for it.
fn write_members<S: Serializer, T: Serialize>(
    serializer: S,
    members: &Members<Member>,
    nested: &T,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(members.len()))?;
    for (key, value) in members.iter() {
        match value {
            Member::Raw(raw) => map.serialize_entry(key, raw)?,
            Member::Nested => map.serialize_entry(key, nested)?,
        }
    }
    map.end()
}

/// The whole object, for serialization.
struct TopView<'a>(&'a SessionObject);
/// `data`, for serialization.
struct DataView<'a>(&'a SessionObject);
/// `data.user`, for serialization.
struct UserView<'a>(&'a SessionObject);

impl Serialize for TopView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        write_members(serializer, &self.0.top, &DataView(self.0))
    }
}

impl Serialize for DataView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        write_members(serializer, &self.0.data, &UserView(self.0))
    }
}

impl Serialize for UserView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        write_members(serializer, &self.0.user, &())
    }
}

/// Reads one level of the object: its members, and the one at `nested` (which must be there,
/// once) with `inner`.
#[derive(Clone, Copy)]
struct Level<Inner> {
    nested: &'static str,
    inner: Inner,
}

impl<'de, Inner, Found> DeserializeSeed<'de> for Level<Inner>
where
    Inner: DeserializeSeed<'de, Value = Found> + Copy,
{
    type Value = (Members<Member>, Found);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, Inner, Found> Visitor<'de> for Level<Inner>
where
    Inner: DeserializeSeed<'de, Value = Found> + Copy,
{
    type Value = (Members<Member>, Found);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a JSON object with an object at `{}`", self.nested)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Members::with_capacity(map.size_hint().unwrap_or(4));
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.nested {
                if found.is_some() {
                    return Err(serde::de::Error::duplicate_field(self.nested));
                }
                found = Some(map.next_value_seed(self.inner)?);
                members.insert(key, Member::Nested);
            } else {
                let value = map.next_value::<Member>()?;
                members.insert(key, value);
            }
        }
        let found = found.ok_or_else(|| serde::de::Error::missing_field(self.nested))?;
        Ok((members, found))
    }
}

impl<'de> Deserialize<'de> for SessionObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let data = Level {
            nested: "user",
            inner: PhantomData::<Members<Member>>,
        };
        let top = Level {
            nested: "data",
            inner: data,
        };
        let (top, (data, user)) = top.deserialize(deserializer)?;
        Ok(Self { top, data, user })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{NoSession, SessionKeys, Verified};
    use super::*;
    use crate::config::Config;
    use crate::domain::SessionCheck;

    const PASSWORD: &str = "nuxt-password-nuxt-password-nuxt-1";
    const OLD: &str = "old-nuxt-password-old-nuxt-password";
    const NOW: i64 = 1_800_000_000_123;

    fn keys(current: &str, previous: &str) -> SessionKeys {
        keys_with(current, previous, "refuse")
    }

    fn keys_with(current: &str, previous: &str, unstamped: &str) -> SessionKeys {
        let config = Config::from_lookup(|name| match name {
            "SESSION_FORMAT" => Some("nuxt".into()),
            "NUXT_SESSION_PASSWORD" => Some(current.into()),
            "NUXT_SESSION_PASSWORD_PREVIOUS" if !previous.is_empty() => Some(previous.into()),
            "NUXT_UNSTAMPED_SESSIONS" => Some(unstamped.into()),
            _ => None,
        })
        .unwrap();
        SessionKeys::new(&config)
    }

    /// A cookie holding `object`, sealed as the Nuxt app would (no expiration of its own).
    fn app_cookie(password: &str, object: &Value) -> String {
        let password = IronPassword::new(password).unwrap();
        let json = serde_json::to_vec(object).unwrap();
        format!("{COOKIE_NAME}={}", iron::seal(&json, &password, None))
    }

    fn app_session(user: Value, logged_in_at: Value) -> Value {
        json!({
            "id": "2b1d0c4e-8f1a-4c55-9a43-0c7e6b1e2f3a",
            "createdAt": NOW - 60_000,
            "data": {"user": user, "loggedInAt": logged_in_at, "theme": "dark"},
        })
    }

    fn object_of(session: &Session) -> Value {
        let FormatFields::Nuxt { object, .. } = &session.format_fields else {
            panic!("a Nuxt session");
        };
        object.to_value()
    }

    #[test]
    fn an_unstamped_session_is_refused_unless_accepted_and_a_refresh_stamps_it() {
        let object = app_session(
            json!({"id": 7, "primary_email": "a@b.co", "name": "Ada"}),
            json!(format_time_ms(NOW - 30_000)),
        );
        let cookie = app_cookie(PASSWORD, &object);
        assert_eq!(
            keys(PASSWORD, "").verify([cookie.as_str()], NOW),
            Err(NoSession::Unstamped)
        );
        let keys = keys_with(PASSWORD, "", "accept");
        let Verified { session, check } = keys.verify([cookie.as_str()], NOW).unwrap();
        assert_eq!(
            (
                session.user_id.get(),
                session.email.as_str(),
                session.version
            ),
            (7, "a@b.co", None)
        );
        assert_eq!(
            check,
            SessionCheck::LoggedInAt(NOW - 30_000),
            "millisecond precision"
        );
        assert_eq!(session.id, "2b1d0c4e-8f1a-4c55-9a43-0c7e6b1e2f3a");
        let refreshed = keys.refresh(session.clone(), "new@b.co", Some(3), NOW);
        let pair = keys.cookie_pair(&refreshed);
        let reopened = keys.verify([pair.as_str()], NOW + 1).unwrap();
        assert_eq!(
            reopened.check,
            SessionCheck::VersionOrLoggedInAt(3, NOW - 30_000)
        );
        assert_eq!(reopened.session.email, "new@b.co");
        assert_eq!(
            object_of(&reopened.session),
            json!({
                "id": "2b1d0c4e-8f1a-4c55-9a43-0c7e6b1e2f3a",
                "createdAt": NOW - 60_000,
                "data": {
                    "user": {
                        "id": 7,
                        "primary_email": "new@b.co",
                        "name": "Ada",
                        "session_version": 3,
                        "logged_in_at": NOW - 30_000,
                    },
                    "loggedInAt": format_time_ms(NOW - 30_000),
                    "theme": "dark",
                },
            })
        );
        // Stamped, it is judged by its stamp under the default too.
        let refuse = super::tests::keys(PASSWORD, "");
        assert_eq!(
            refuse.verify([pair.as_str()], NOW + 1).map(|v| v.check),
            Ok(SessionCheck::Version(3))
        );
    }

    #[test]
    fn a_stamped_session_is_judged_by_its_stamp_whatever_logged_in_at_says() {
        let keys = keys(PASSWORD, "");
        let day = 86_400_000;
        // What the web app's session plugin makes of a stamped session: loggedInAt now.
        let stamped = |login: i64| {
            app_cookie(
                PASSWORD,
                &app_session(
                    json!({"id": 7, "primary_email": "a@b.co", "session_version": 4, "logged_in_at": login}),
                    json!(format_time_ms(NOW)),
                ),
            )
        };
        let fresh = stamped(NOW - day);
        let verified = keys.verify([fresh.as_str()], NOW).unwrap();
        assert_eq!(verified.check, SessionCheck::Version(4));
        assert_eq!(verified.session.login_at_ms, NOW - day);
        let old = stamped(NOW - 31 * day);
        assert_eq!(
            keys.verify([old.as_str()], NOW).map(|v| v.check),
            Err(NoSession::Expired),
            "the absolute lifetime counts from the stamp, not from loggedInAt"
        );
    }

    #[test]
    fn sessions_from_the_future_are_refused() {
        let refuse = keys(PASSWORD, "");
        let accept = keys_with(PASSWORD, "", "accept");
        let object = |created: i64, logged_in_at: Value, user: Value| {
            app_cookie(
                PASSWORD,
                &json!({"id": "x", "createdAt": created, "data": {"user": user, "loggedInAt": logged_in_at}}),
            )
        };
        let stamp = |login: i64| json!({"id": 7, "session_version": 1, "logged_in_at": login});
        let ahead = NOW + 61_000;
        let near = NOW + 59_000;
        let cases = [
            (
                &refuse,
                object(NOW, json!(NOW), stamp(ahead)),
                Err(NoSession::FromTheFuture),
                "a stamped login ahead",
            ),
            (
                &refuse,
                object(ahead, json!(NOW), stamp(NOW)),
                Err(NoSession::FromTheFuture),
                "createdAt ahead",
            ),
            (
                &refuse,
                object(NOW, json!(format_time_ms(ahead)), stamp(NOW)),
                Ok(7),
                "a stamped session's loggedInAt is not judged",
            ),
            (
                &refuse,
                object(near, json!(NOW), stamp(near)),
                Ok(7),
                "within the skew",
            ),
            (
                &accept,
                object(NOW, json!(format_time_ms(ahead)), json!({"id": 7})),
                Err(NoSession::FromTheFuture),
                "an unstamped loggedInAt ahead",
            ),
            (
                &accept,
                object(NOW, json!("9999-12-31T23:59:59.000Z"), json!({"id": 7})),
                Err(NoSession::FromTheFuture),
                "the year 9999",
            ),
        ];
        for (keys, cookie, expected, why) in cases {
            assert_eq!(
                keys.verify([cookie.as_str()], NOW)
                    .map(|v| v.session.user_id.get()),
                expected,
                "{why}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_an_authentic_session_object() {
        let keys = keys_with(PASSWORD, OLD, "accept");
        let login = json!(format_time_ms(NOW));
        let good = app_cookie(PASSWORD, &app_session(json!({"id": 7}), login.clone()));
        let cases = [
            (
                app_cookie(
                    "another-password-another-password-1",
                    &app_session(json!({"id": 7}), login.clone()),
                ),
                "sealed with a password we do not hold",
            ),
            (
                app_cookie(PASSWORD, &app_session(json!({"id": "7"}), login.clone())),
                "a user id that is a string",
            ),
            (
                app_cookie(PASSWORD, &app_session(json!({"id": 0}), login.clone())),
                "user id 0",
            ),
            (
                app_cookie(PASSWORD, &app_session(json!({"id": 7.5}), login.clone())),
                "a fractional user id",
            ),
            (
                app_cookie(
                    PASSWORD,
                    &app_session(json!({"name": "Ada"}), login.clone()),
                ),
                "no user id",
            ),
            (
                app_cookie(PASSWORD, &json!({"id": "x", "createdAt": NOW, "data": {}})),
                "no user",
            ),
            (
                app_cookie(
                    PASSWORD,
                    &json!({"id": "x", "createdAt": NOW, "data": {"loggedInAt": login.clone()}}),
                ),
                "a signed-out visitor's session: no user",
            ),
            (
                app_cookie(PASSWORD, &json!(["not", "an", "object"])),
                "not an object",
            ),
            (
                app_cookie(PASSWORD, &app_session(json!({"id": 7}), json!("yesterday"))),
                "a login time that is not a time",
            ),
            (
                app_cookie(
                    PASSWORD,
                    &app_session(
                        json!({"id": 7, "session_version": "2", "logged_in_at": NOW}),
                        login.clone(),
                    ),
                ),
                "a stamped version that is not a number",
            ),
            (
                app_cookie(
                    PASSWORD,
                    &app_session(
                        json!({"id": 7, "session_version": 2, "logged_in_at": "now"}),
                        login.clone(),
                    ),
                ),
                "a stamped login time that is not a number",
            ),
            (
                app_cookie(
                    PASSWORD,
                    &app_session(json!({"id": 7, "session_version": 2}), login.clone()),
                ),
                "half a stamp",
            ),
            (format!("{}x", &good[..good.len() - 1]), "tampered"),
            (good[..good.len() - 5].to_owned(), "truncated"),
            (good.replacen("Fe26.2", "Fe26.1", 1), "another iron version"),
            (format!("{COOKIE_NAME}=!!!not*base64!!!"), "not iron at all"),
        ];
        for (cookie, why) in cases {
            assert_eq!(
                keys.verify([cookie.as_str()], NOW)
                    .map(|s| s.session.user_id),
                Err(NoSession::Invalid),
                "{why}"
            );
        }
        assert!(keys.verify([good.as_str()], NOW).is_ok(), "the good one");
        let old = app_cookie(OLD, &app_session(json!({"id": 7}), login));
        assert!(
            keys.verify([old.as_str()], NOW).is_ok(),
            "a previous password"
        );
    }

    #[test]
    fn the_login_time_of_an_unstamped_session_comes_from_logged_in_at_else_created_at() {
        let keys = keys_with(PASSWORD, "", "accept");
        let iso = "2027-01-15T08:00:00.250Z";
        let iso_ms: i64 = 1_800_000_000_250;
        assert_eq!(parse_time_ms(iso), Some(iso_ms));
        let cases: [(Value, i64, i64, &str); 3] = [
            (json!(iso), NOW, iso_ms, "an ISO time"),
            (json!(NOW - 5), NOW, NOW - 5, "epoch milliseconds"),
            (Value::Null, NOW - 9, NOW - 9, "none: createdAt"),
        ];
        for (logged_in_at, created_at, expected, why) in cases {
            let object = json!({
                "id": "x",
                "createdAt": created_at,
                "data": {"user": {"id": 7}, "loggedInAt": logged_in_at},
            });
            let verified = keys
                .verify([app_cookie(PASSWORD, &object).as_str()], NOW)
                .unwrap();
            assert_eq!(verified.session.login_at_ms, expected, "{why}");
            assert_eq!(verified.check, SessionCheck::LoggedInAt(expected), "{why}");
        }
    }

    #[test]
    fn the_session_object_is_read_in_one_pass_and_written_back_as_it_came() {
        let app = r#"{"id":"s","createdAt":1.0e3,"data":{"theme":"\u00e9","user":{"id":7,"name":"A\"da","primary_email":"a@b.co"},"x":[1, 2]},"z":null}"#;
        let mut object = SessionObject::parse(app.as_bytes()).expect("an h3 session object");
        assert_eq!(
            String::from_utf8(object.to_json()).unwrap(),
            app,
            "every value byte for byte"
        );
        assert_eq!(
            object.data_json(),
            r#"{"theme":"\u00e9","user":{"id":7,"name":"A\"da","primary_email":"a@b.co"},"x":[1, 2]}"#
        );
        object.refresh("new@b.co", Some(4), 1_000);
        assert_eq!(
            String::from_utf8(object.to_json()).unwrap(),
            r#"{"id":"s","createdAt":1.0e3,"data":{"theme":"\u00e9","user":{"id":7,"name":"A\"da","primary_email":"new@b.co","session_version":4,"logged_in_at":1000},"x":[1, 2]},"z":null}"#,
            "the address in its place, the stamp appended, nothing else touched"
        );
        let cases: [(&str, Option<&str>); 8] = [
            (
                r#"{"a":1,"data":{"user":{"id":1}},"a":2}"#,
                Some(r#"{"a":2,"data":{"user":{"id":1}}}"#),
            ),
            (
                r#"{"data":{"user":{"id":1,"id":2}}}"#,
                Some(r#"{"data":{"user":{"id":2}}}"#),
            ),
            (r#"{"data":{"user":{}},"data":{"user":{}}}"#, None),
            (r#"{"data":{"user":{},"user":{}}}"#, None),
            (r#"{"data":{"user":[]}}"#, None),
            (r#"{"data":{"other":{}}}"#, None),
            (r#"{"data":1}"#, None),
            (r#"["data"]"#, None),
        ];
        for (json, expected) in cases {
            let written = SessionObject::parse(json.as_bytes())
                .map(|object| String::from_utf8(object.to_json()).unwrap());
            assert_eq!(written.as_deref(), expected, "{json}");
        }
    }

    /// A value `serde_json` cannot read where the session is judged (a lone surrogate, a
    /// number past `f64`) is no session; elsewhere in the object it is kept as written.
    #[test]
    fn an_unreadable_value_the_session_is_judged_by_is_no_session() {
        let keys = keys_with(PASSWORD, "", "accept");
        let sealed = |json: &str| {
            let password = IronPassword::new(PASSWORD).unwrap();
            format!(
                "{COOKIE_NAME}={}",
                iron::seal(json.as_bytes(), &password, None)
            )
        };
        let session = |user: &str, top: &str| {
            format!(
                r#"{{"id":"s","createdAt":{created}{top},"data":{{"user":{{"id":7{user}}},"loggedInAt":{created},"theme":"\ud800"}}}}"#,
                created = NOW - 60_000,
            )
        };
        let cases = [
            (
                session("", ""),
                true,
                "readable; the lone surrogate in theme is kept",
            ),
            (
                session(r#","primary_email":"\ud800""#, ""),
                false,
                "the address",
            ),
            (
                session(r#","session_version":1e400,"logged_in_at":1"#, ""),
                false,
                "the stamp",
            ),
            (session("", r#","id":"\udc00""#), false, "the session id"),
        ];
        for (json, opens, why) in cases {
            let cookie = sealed(&json);
            assert_eq!(keys.verify([cookie.as_str()], NOW).is_ok(), opens, "{why}");
        }
    }

    #[test]
    fn issued_sessions_are_stamped_h3_session_objects_with_a_random_id() {
        let keys = keys(PASSWORD, "");
        let a = keys.issue(UserId::new(7).unwrap(), "a@b.co", 1, NOW, None);
        let b = keys.issue(UserId::new(7).unwrap(), "a@b.co", 1, NOW, None);
        let (a_object, b_object) = (object_of(&a), object_of(&b));
        assert_ne!(a_object["id"], b_object["id"]);
        let id = a_object["id"].as_str().unwrap();
        assert_eq!((id.len(), &id[14..15]), (36, "4"), "{id}");
        assert_eq!(a.id, id, "the session's id is the object's");
        assert_eq!(a_object["createdAt"], json!(NOW));
        assert_eq!(
            a_object["data"],
            json!({
                "user": {"id": 7, "primary_email": "a@b.co", "session_version": 1, "logged_in_at": NOW},
                "loggedInAt": format_time_ms(NOW),
            })
        );
        assert_eq!(keys.sign_in_body(&a), a_object["data"].to_string());
    }
}
