//! The frame every dashboard page shares (head, navigation, sign-out, the notice a form
//! left), the sign-in page and the error page. maud escapes every value it is given.

use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

use super::session::Notice;
use super::Signed;

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · mcp-portal" }
            link rel="stylesheet" href="/ui/assets/style.css";
            script src="/ui/assets/app.js" defer {}
        }
    }
}

/// A page of the signed-in caller, with `notice` (what their last form did) on top.
pub(super) fn page(title: &str, who: &Signed, notice: Option<Notice>, body: Markup) -> Markup {
    let user = who.user();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    nav {
                        strong { "mcp-portal" }
                        a href={ "/ui/users/" (user) } { "My servers" }
                        @if who.is_admin() {
                            a href="/ui/admin/catalogs" { "Catalogs" }
                            a href="/ui/admin/users" { "Users" }
                            a href="/ui/admin/containers" { "Containers" }
                            a href="/ui/admin/audit" { "Audit log" }
                        }
                    }
                    form.signout method="post" action="/ui/signout" {
                        (csrf(who))
                        span.who { (user) @if who.is_admin() { " (admin)" } }
                        button type="submit" id="signout" { "Sign out" }
                    }
                }
                main {
                    @match notice {
                        Some(Notice::Ok(m)) => p.notice.ok role="status" { (m) },
                        Some(Notice::Failed(m)) => pre.notice.failed role="alert" { (m) },
                        None => {},
                    }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden field that every form of a signed-in page carries.
pub(super) fn csrf(who: &Signed) -> Markup {
    html! { input type="hidden" name=(super::session::CSRF_FIELD) value=(who.session.csrf); }
}

/// A one-button form that posts to `action`.
pub(super) fn button(who: &Signed, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf(who))
            button type="submit" class=(class) { (label) }
        }
    }
}

pub(super) fn sign_in(problem: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body.signin {
                main {
                    h1 { "mcp-portal" }
                    @if let Some(p) = problem {
                        p.notice.failed role="alert" { (p) }
                    }
                    form method="post" action="/ui/signin" {
                        label for="token" { "API token" }
                        input type="password" id="token" name="token" autocomplete="off" required;
                        button type="submit" id="signin" { "Sign in" }
                    }
                    p.hint { "An admin makes your token with " code { "portalctl token create --user YOU" } "." }
                }
            }
        }
    }
}

pub(super) fn error_page(status: StatusCode, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Error"))
            body {
                main {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("error")) }
                    pre.notice.failed role="alert" { (message) }
                    p { a href="/" { "Back to the dashboard" } }
                }
            }
        }
    }
}
