//! Line framing of a server's output: the engine hands over chunks as they come, and a
//! message may be split across chunks or share one with others.

/// The longest line kept, so a server writing without newlines cannot fill the gateway's
/// memory. It is far above any message MCP servers send (images come base64 in one line).
pub(super) const MAX_LINE: usize = 16 << 20;

/// What one chunk completed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// A whole line, without its line end (`\n` or `\r\n`).
    Whole(Vec<u8>),
    /// A line over [`MAX_LINE`] was dropped: this many bytes of it had come.
    TooLong(usize),
}

#[derive(Debug, Default)]
pub(super) struct Lines {
    partial: Vec<u8>,
    /// Bytes of an over-long line dropped so far; its remainder is dropped up to the newline.
    skipped: Option<usize>,
}

impl Lines {
    /// Adds a chunk and returns the lines it finished, in order.
    pub(super) fn push(&mut self, mut chunk: &[u8]) -> Vec<Line> {
        let mut lines = Vec::new();
        while let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            let (head, rest) = (&chunk[..end], &chunk[end + 1..]);
            match self.skipped.take() {
                Some(skipped) => lines.push(Line::TooLong(skipped + head.len())),
                None if self.partial.len() + head.len() > MAX_LINE => {
                    lines.push(Line::TooLong(self.partial.len() + head.len()));
                    self.partial.clear();
                }
                None => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(head);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    lines.push(Line::Whole(line));
                }
            }
            chunk = rest;
        }
        match &mut self.skipped {
            Some(skipped) => *skipped += chunk.len(),
            None if self.partial.len() + chunk.len() > MAX_LINE => {
                self.skipped = Some(self.partial.len() + chunk.len());
                self.partial = Vec::new();
            }
            None => self.partial.extend_from_slice(chunk),
        }
        lines
    }

    /// The unfinished last line, once the output has ended.
    pub(super) fn rest(self) -> Option<Vec<u8>> {
        (self.skipped.is_none() && !self.partial.is_empty()).then_some(self.partial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(text: &str) -> Line {
        Line::Whole(text.as_bytes().to_vec())
    }

    #[test]
    fn a_line_split_across_chunks_comes_out_whole_once() {
        let mut lines = Lines::default();
        assert_eq!(lines.push(b"{\"a\":"), []);
        assert_eq!(lines.push(b"1"), []);
        assert_eq!(lines.push(b"}\r\n{\"b\""), [whole("{\"a\":1}")]);
        assert_eq!(lines.push(b":2}\n"), [whole("{\"b\":2}")]);
        assert_eq!(lines.rest(), None);
    }

    #[test]
    fn a_chunk_with_several_lines_yields_each_in_order() {
        let mut lines = Lines::default();
        assert_eq!(
            lines.push(b"one\n\ntwo\nthr"),
            [whole("one"), whole(""), whole("two")]
        );
        assert_eq!(lines.rest(), Some(b"thr".to_vec()));
    }

    #[test]
    fn an_over_long_line_is_dropped_and_the_next_one_kept() {
        let mut lines = Lines::default();
        let big = vec![b'x'; MAX_LINE];
        assert_eq!(lines.push(&big), []);
        assert_eq!(lines.push(b"yy"), []);
        assert_eq!(
            lines.push(b"y\nnext\n"),
            [Line::TooLong(MAX_LINE + 3), whole("next")]
        );
        let mut lines = Lines::default();
        let mut big = vec![b'x'; MAX_LINE + 1];
        big.push(b'\n');
        assert_eq!(lines.push(&big), [Line::TooLong(MAX_LINE + 1)]);
        assert_eq!(lines.push(b"ok\n"), [whole("ok")]);
    }
}
