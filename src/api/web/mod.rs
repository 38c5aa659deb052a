//! The web dashboard at `/` and `/ui/...`: pages rendered on the server (maud), forms
//! that post and redirect, and a little embedded JavaScript for live updates (the
//! events and logs streams). A browser signs in with an API token, which is exchanged
//! for a session (`session`); every request re-checks that the token is still in force,
//! and every form carries the session's CSRF token. Pages call the same manager
//! operations as the API's handlers, under the same access rules: a user sees only
//! their own pages, an admin sees all.

mod admin;
mod diff;
mod layout;
mod session;
mod user;

pub(crate) use session::Sessions;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use super::{ApiError, ApiState};
use crate::engine::Engine;
use crate::ids::UserId;
use crate::store::{TokenRole, TokenScope};
use session::Session;

type S<E> = State<Arc<ApiState<E>>>;
/// A form's fields in order, repeated names kept (a list parameter sends several).
type Fields = Vec<(String, String)>;

const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

pub(super) fn router<E: Engine + 'static>() -> Router<Arc<ApiState<E>>> {
    Router::new()
        .route("/", get(home::<E>))
        .route("/ui/signin", post(sign_in::<E>))
        .route("/ui/signout", post(sign_out::<E>))
        .route(
            "/ui/assets/app.js",
            get(|| asset("text/javascript", APP_JS)),
        )
        .route("/ui/assets/style.css", get(|| asset("text/css", STYLE_CSS)))
        .merge(user::router())
        .merge(admin::router())
}

async fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Why a page is not shown: an HTML page with the status and what to do.
#[derive(Debug)]
pub(super) enum WebError {
    /// Not signed in (or the session's token is no longer in force): to the sign-in.
    SignIn,
    Page(StatusCode, String),
}

impl WebError {
    fn forbidden(why: &str) -> Self {
        Self::Page(StatusCode::FORBIDDEN, why.to_string())
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        let status = e.status();
        let mut message = e.message;
        for d in &e.details {
            message.push('\n');
            message.push_str(d);
        }
        for d in &e.diagnostics {
            message.push_str(&format!("\n{d}"));
        }
        Self::Page(status, message)
    }
}

impl From<crate::manager::PortalError> for WebError {
    fn from(e: crate::manager::PortalError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => Redirect::to("/").into_response(),
            Self::Page(status, message) => {
                (status, layout::error_page(status, &message)).into_response()
            }
        }
    }
}

type Page = Result<Response, WebError>;

/// A signed-in caller.
#[derive(Debug, Clone)]
pub(super) struct Signed {
    session: Session,
}

impl Signed {
    fn user(&self) -> &UserId {
        &self.session.token.user
    }

    fn is_admin(&self) -> bool {
        self.session.token.role == TokenRole::Admin
    }

    /// A user's pages: their own, or any for an admin.
    fn may_see(&self, user: &UserId) -> Result<(), WebError> {
        if self.is_admin() || self.user() == user {
            Ok(())
        } else {
            Err(WebError::forbidden(
                "these pages belong to another user; a user sees only their own",
            ))
        }
    }

    fn admin(&self) -> Result<(), WebError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(WebError::forbidden(
                "this page is for admins; sign in with an admin token",
            ))
        }
    }
}

impl<E: Engine + 'static> ApiState<E> {
    /// The request's session, if its token is still in force; a session whose token was
    /// revoked or expired is closed here.
    async fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let s = self.sessions.find(headers)?;
        let portal = self.portal.clone();
        let id = s.token.id.clone();
        let in_force = tokio::task::spawn_blocking(move || portal.token_in_force(&id))
            .await
            .unwrap_or(false);
        if in_force {
            Some(s)
        } else {
            self.sessions.close(&s.id);
            None
        }
    }

    /// The signed-in caller of a page.
    async fn signed(&self, headers: &HeaderMap) -> Result<Signed, WebError> {
        let session = self.session(headers).await.ok_or(WebError::SignIn)?;
        Ok(Signed { session })
    }

    /// The signed-in caller of a form: the form must carry the session's CSRF token.
    async fn posted(&self, headers: &HeaderMap, fields: &Fields) -> Result<Signed, WebError> {
        let signed = self.signed(headers).await?;
        let sent = field(fields, session::CSRF_FIELD).unwrap_or_default();
        if !session::same(sent, &signed.session.csrf) {
            return Err(WebError::forbidden(
                "this form lacks its security token; reload the page and send it again",
            ));
        }
        Ok(signed)
    }

    /// The token of an event or log stream opened by the dashboard's own scripts: the
    /// session's, for a GET stream only (the callers never use it to change anything).
    pub(super) async fn stream_token(
        &self,
        headers: &HeaderMap,
    ) -> Option<crate::store::TokenRecord> {
        if headers.contains_key(header::AUTHORIZATION) {
            return None;
        }
        self.session(headers).await.map(|s| s.token)
    }

    /// The portal acting as the session's user, for the audit log.
    fn as_signed(&self, signed: &Signed) -> crate::manager::Portal {
        self.as_caller(&signed.session.token)
    }
}

/// The first value of a form field.
fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// After a form: back to a page, with a notice the page shows once; or, to the page's
/// script (which asks for JSON and stays on the page), the notice itself.
fn done<E: Engine + 'static>(
    state: &ApiState<E>,
    signed: &Signed,
    headers: &HeaderMap,
    to: &str,
    notice: Result<String, WebError>,
) -> Page {
    let notice = match notice {
        Ok(m) => session::Notice::Ok(m),
        Err(WebError::SignIn) => return Err(WebError::SignIn),
        Err(WebError::Page(_, m)) => session::Notice::Failed(m),
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if wants_json {
        let (ok, message) = match notice {
            session::Notice::Ok(m) => (true, m),
            session::Notice::Failed(m) => (false, m),
        };
        return Ok(axum::Json(serde_json::json!({"ok": ok, "message": message})).into_response());
    }
    state.sessions.notice(&signed.session.id, notice);
    Ok(Redirect::to(to).into_response())
}

/// `GET /`: the sign-in form, or the signed-in user's page.
async fn home<E: Engine + 'static>(state: S<E>, headers: HeaderMap) -> Page {
    match state.session(&headers).await {
        Some(s) => Ok(Redirect::to(&format!("/ui/users/{}", s.token.user)).into_response()),
        None => Ok(layout::sign_in(None).into_response()),
    }
}

/// `POST /ui/signin`: an API token for a session.
async fn sign_in<E: Engine + 'static>(state: S<E>, Form(fields): Form<Fields>) -> Page {
    let presented = field(&fields, "token")
        .unwrap_or_default()
        .trim()
        .to_string();
    let portal = state.portal.clone();
    let token = tokio::task::spawn_blocking(move || portal.authenticate(&presented))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let Some(token) = token else {
        // 401, so the guard in front counts it against the address like any bad token.
        return Ok((
            StatusCode::UNAUTHORIZED,
            layout::sign_in(Some(
                "that token is not valid; paste an API token from `portalctl token create`",
            )),
        )
            .into_response());
    };
    if token.scope != TokenScope::Api {
        return Ok((
            StatusCode::FORBIDDEN,
            layout::sign_in(Some(
                "this token may only use the MCP gateway; sign in with an api token",
            )),
        )
            .into_response());
    }
    let session = state.sessions.open(token);
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, state.sessions.set_cookie(&session)),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response())
}

/// `POST /ui/signout`.
async fn sign_out<E: Engine + 'static>(
    state: S<E>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Page {
    let signed = state.posted(&headers, &fields).await?;
    state.sessions.close(&signed.session.id);
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, state.sessions.clear_cookie()),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response())
}
