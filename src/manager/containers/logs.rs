//! `logs`: what a user's server printed, as lines with the user's secret values masked.
//! The engine's chunks are cut into whole lines first, so a value split across two
//! writes is still masked.

use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::super::{PortalError, Result};
use super::{blocking, Runtime};
use crate::engine::{Engine, LogsQuery, Output};
use crate::ids::{ServerId, UserId};
use crate::plan::container_name;
use crate::secrets::Redactor;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line a server printed, its secrets masked, without its line ending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub stream: LogStream,
    pub line: String,
}

/// A line longer than this is passed on in pieces of this size, so that a server that
/// never prints a newline cannot make the portal hold its output without bound.
const MAX_LINE: usize = 64 * 1024;

/// Cuts one stream's chunks into lines.
#[derive(Default)]
struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// An endless line is passed on in pieces cut where no secret value runs across the
    /// cut (`redact.safe_cut`), holding back as much as the longest value might still
    /// need, so each value is whole in one piece and masked there.
    fn push(&mut self, chunk: &[u8], redact: &Redactor, out: &mut Vec<String>) {
        self.pending.extend_from_slice(chunk);
        while let Some(at) = self.pending.iter().position(|b| *b == b'\n') {
            let rest = self.pending.split_off(at + 1);
            let mut line = std::mem::replace(&mut self.pending, rest);
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            out.push(String::from_utf8_lossy(&line).into_owned());
        }
        let keep = redact.longest().saturating_sub(1);
        while self.pending.len() >= MAX_LINE + keep {
            let at = redact.safe_cut(&self.pending, MAX_LINE).max(1);
            let rest = self.pending.split_off(at);
            let piece = std::mem::replace(&mut self.pending, rest);
            out.push(String::from_utf8_lossy(&piece).into_owned());
        }
    }

    fn finish(&mut self, out: &mut Vec<String>) {
        if !self.pending.is_empty() {
            out.push(String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned());
        }
    }
}

struct Masked {
    redact: Redactor,
    stdout: Lines,
    stderr: Lines,
}

impl Masked {
    fn lines(&mut self, item: Option<Output>) -> Vec<LogLine> {
        let mut out = Vec::new();
        let mut tagged = |stream, lines: Vec<String>, redact: &Redactor| {
            out.extend(lines.into_iter().map(|l| LogLine {
                stream,
                line: redact.mask(&l),
            }))
        };
        let mut lines = Vec::new();
        match item {
            Some(Output::Stdout(b)) => {
                self.stdout.push(&b, &self.redact, &mut lines);
                tagged(LogStream::Stdout, lines, &self.redact);
            }
            Some(Output::Stderr(b)) => {
                self.stderr.push(&b, &self.redact, &mut lines);
                tagged(LogStream::Stderr, lines, &self.redact);
            }
            None => {
                self.stdout.finish(&mut lines);
                tagged(LogStream::Stdout, std::mem::take(&mut lines), &self.redact);
                self.stderr.finish(&mut lines);
                tagged(LogStream::Stderr, lines, &self.redact);
            }
        }
        out
    }
}

/// A disabled server's container was removed, and Docker keeps no log without one.
fn not_enabled_logs(user: &UserId, server: &ServerId) -> PortalError {
    PortalError::NotFound {
        what: "enabled server",
        name: format!("{server} of user {user}"),
        hint: "a disabled server's container is removed, and its log with it; \
               enable it again and its new log starts empty"
            .into(),
    }
}

fn no_container(user: &UserId, server: &ServerId) -> PortalError {
    PortalError::NotFound {
        what: "container of",
        name: format!("{server} for user {user}"),
        hint: "a removed container's log is gone with it; restart the server \
               (`portalctl restart`) and its new log starts empty"
            .into(),
    }
}

impl<E: Engine> Runtime<E> {
    /// The log of a user's enabled server, with every secret value of the user masked.
    pub async fn logs(
        &self,
        user: &UserId,
        server: &ServerId,
        query: LogsQuery,
    ) -> Result<BoxStream<'static, Result<LogLine>>> {
        if !self
            .portal
            .store
            .read_enabled(user)?
            .servers
            .contains_key(server)
        {
            return Err(not_enabled_logs(user, server));
        }
        let name = container_name(user, server.as_str());
        match self.engine.container(&name).await? {
            Some(c) if self.ours(&c, user) => {}
            _ => return Err(no_container(user, server)),
        }
        let portal = self.portal.clone();
        let u = user.clone();
        let values = blocking(move || portal.secret_values(&u)).await?;
        let mut masked = Masked {
            redact: Redactor::new(&values),
            stdout: Lines::default(),
            stderr: Lines::default(),
        };
        drop(values);
        let chunks = self
            .engine
            .logs(&name, &query)
            .map(Some)
            .chain(stream::once(async { None }));
        let lines = chunks.flat_map(move |item| {
            let batch: Vec<Result<LogLine>> = match item {
                Some(Ok(out)) => masked.lines(Some(out)).into_iter().map(Ok).collect(),
                Some(Err(e)) => vec![Err(PortalError::from(e))],
                None => masked.lines(None).into_iter().map(Ok).collect(),
            };
            stream::iter(batch)
        });
        Ok(lines.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretValue;

    fn masked(values: &[&str]) -> Masked {
        let v: Vec<SecretValue> = values
            .iter()
            .map(|s| SecretValue::new(s.to_string()).unwrap())
            .collect();
        Masked {
            redact: Redactor::new(&v),
            stdout: Lines::default(),
            stderr: Lines::default(),
        }
    }

    fn texts(lines: Vec<LogLine>) -> Vec<String> {
        lines
            .into_iter()
            .map(|l| format!("{:?} {}", l.stream, l.line))
            .collect()
    }

    #[test]
    fn a_secret_split_across_two_writes_is_still_masked() {
        let mut m = masked(&["ghp_secret"]);
        assert!(m
            .lines(Some(Output::Stdout(b"token=ghp_se".to_vec())))
            .is_empty());
        assert_eq!(
            texts(m.lines(Some(Output::Stdout(b"cret ok\r\nnext".to_vec())))),
            ["Stdout token=**** ok"]
        );
        assert_eq!(texts(m.lines(None)), ["Stdout next"]);
    }

    #[test]
    fn streams_are_cut_apart_and_kept_apart() {
        let mut m = masked(&[]);
        m.lines(Some(Output::Stderr(b"err ".to_vec())));
        assert_eq!(
            texts(m.lines(Some(Output::Stdout(b"out\n".to_vec())))),
            ["Stdout out"]
        );
        assert_eq!(
            texts(m.lines(Some(Output::Stderr(b"one\n".to_vec())))),
            ["Stderr err one"]
        );
    }

    #[test]
    fn a_secret_across_the_cut_of_an_endless_line_is_masked_whole() {
        let mut m = masked(&["ghp_secret"]);
        let mut text = vec![b'x'; MAX_LINE - 4];
        text.extend_from_slice(b"ghp_secret");
        text.extend(vec![b'y'; 20]);
        let out = m.lines(Some(Output::Stdout(text)));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].line.len(), MAX_LINE - 4, "cut before the value");
        let rest = m.lines(None);
        assert!(rest[0].line.starts_with("****y"), "{}", rest[0].line);
    }

    #[test]
    fn a_line_without_end_is_passed_on_in_bounded_pieces() {
        let mut m = masked(&[]);
        let big = vec![b'x'; MAX_LINE + 10];
        let out = m.lines(Some(Output::Stdout(big)));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].line.len(), MAX_LINE);
        assert_eq!(m.lines(None)[0].line.len(), 10);
    }
}
