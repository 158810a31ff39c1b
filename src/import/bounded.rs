//! Input readers with a limit on every line: CSV records and JSON lines are
//! cut off at [`MAX_RECORD_BYTES`] while they are read, so one huge line
//! (a 256 MiB JSON object, a 64 MiB CSV field) costs at most that limit in
//! memory and is rejected on its own, with its line number, instead of
//! being read whole first.
//!
//! The CSV side is a [`Read`] adapter in front of the `csv` crate. It
//! follows the record structure the crate parses (RFC 4180 quoting: a quote
//! opens a quoted field only at the start of a field, `""` inside one is a
//! quote, a record ends at `\n` or `\r` outside quotes, empty lines are no
//! records) and notes for each record the line it starts on, whether it was
//! cut off, and whether its quote was never closed. The crate reads an
//! unclosed quote to the end of the input without complaint, so that is the
//! only way to see it.
//!
//! The JSON Lines side is a line iterator with the same rules: one BOM at
//! the very start of the input is skipped (as the `csv` crate does), a line
//! that is not UTF-8 is rejected (never repaired with U+FFFD).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::rc::Rc;

/// The longest CSV record (all its fields and separators) or JSON line an
/// import reads, in bytes: 1 MiB. A longer one is rejected with its line
/// number, and only this much of it is ever held in memory.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// What the reader saw of one CSV record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordShape {
    /// The line (from 1) the record starts on.
    pub line: u64,
    /// Longer than [`MAX_RECORD_BYTES`]: the rest was skipped.
    pub overlong: bool,
    /// Its quoted field was still open at the end of the input.
    pub unclosed_quote: bool,
}

impl RecordShape {
    /// Why the record must be rejected whatever its fields say, if it must.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.overlong {
            Some(format!("line longer than {MAX_RECORD_BYTES} bytes"))
        } else if self.unclosed_quote {
            Some("unclosed quote: a quoted field runs to the end of the input".to_owned())
        } else {
            None
        }
    }
}

/// The records the adapter has seen and the CSV reader has not yet
/// returned, oldest first.
pub(crate) type Shapes = Rc<RefCell<VecDeque<RecordShape>>>;

/// A [`Read`] adapter that passes CSV bytes through, cutting off every
/// record at [`MAX_RECORD_BYTES`] and noting each record's [`RecordShape`].
pub(crate) struct CsvGuard<R> {
    inner: R,
    shapes: Shapes,
    line: u64,
    in_record: bool,
    record_bytes: usize,
    field_start: bool,
    in_quotes: bool,
    /// Inside quotes, just after a `"`: a second one is an escaped quote,
    /// anything else closed the field.
    quote_pending: bool,
    /// The current record is past the limit: its bytes are dropped.
    dropping: bool,
    /// When dropping began inside an open quote, the reader must be given a
    /// closing quote so the record ends where it really ends.
    close_quote_owed: bool,
    ended: bool,
    chunk: Vec<u8>,
    /// Bytes ready for the reader, and how many of them it has taken.
    out: Vec<u8>,
    passed: usize,
}

impl<R: Read> CsvGuard<R> {
    pub(crate) fn new(inner: R) -> (CsvGuard<R>, Shapes) {
        let shapes = Shapes::default();
        let guard = CsvGuard {
            inner,
            shapes: shapes.clone(),
            line: 1,
            in_record: false,
            record_bytes: 0,
            field_start: true,
            in_quotes: false,
            quote_pending: false,
            dropping: false,
            close_quote_owed: false,
            ended: false,
            chunk: vec![0; 64 * 1024],
            out: Vec::new(),
            passed: 0,
        };
        (guard, shapes)
    }

    fn mark_last(&self, f: impl FnOnce(&mut RecordShape)) {
        if let Some(last) = self.shapes.borrow_mut().back_mut() {
            f(last);
        }
    }

    /// Follows one input byte; returns the bytes to pass on (none while a
    /// record is dropped, a closing quote before the terminator after one).
    fn step(&mut self, b: u8, out: &mut Vec<u8>) {
        let terminator = b == b'\n' || b == b'\r';
        if self.in_quotes {
            if self.quote_pending {
                self.quote_pending = false;
                if b != b'"' {
                    self.in_quotes = false;
                }
            } else if b == b'"' {
                self.quote_pending = true;
            }
        }
        if !self.in_quotes && terminator {
            if self.in_record {
                self.in_record = false;
                self.record_bytes = 0;
                if self.dropping {
                    self.dropping = false;
                    if std::mem::take(&mut self.close_quote_owed) {
                        out.push(b'"');
                    }
                }
            }
            self.field_start = true;
            if b == b'\n' {
                self.line += 1;
            }
            out.push(b);
            return;
        }
        if !self.in_quotes {
            if b == b'"' && self.field_start {
                self.in_quotes = true;
            }
            self.field_start = b == b',';
        }
        if !self.in_record {
            self.in_record = true;
            self.shapes.borrow_mut().push_back(RecordShape {
                line: self.line,
                overlong: false,
                unclosed_quote: false,
            });
        }
        if b == b'\n' {
            // A newline inside quotes: part of the field, but a line all the
            // same for the numbers of later records.
            self.line += 1;
        }
        self.record_bytes += 1;
        if !self.dropping && self.record_bytes > MAX_RECORD_BYTES {
            self.dropping = true;
            // What was passed on so far left the reader inside a quoted
            // field unless the last quote passed on may have closed it.
            self.close_quote_owed = self.in_quotes && !self.quote_pending;
            self.mark_last(|s| s.overlong = true);
        }
        if !self.dropping {
            out.push(b);
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.in_quotes && !self.quote_pending && self.in_record {
            self.mark_last(|s| s.unclosed_quote = true);
        }
        if std::mem::take(&mut self.close_quote_owed) {
            out.push(b'"');
        }
    }
}

impl<R: Read> Read for CsvGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.passed < self.out.len() {
                let n = buf.len().min(self.out.len() - self.passed);
                buf[..n].copy_from_slice(&self.out[self.passed..self.passed + n]);
                self.passed += n;
                return Ok(n);
            }
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            let mut out = std::mem::take(&mut self.out);
            out.clear();
            self.passed = 0;
            let n = self.inner.read(&mut self.chunk)?;
            if n == 0 {
                self.ended = true;
                self.finish(&mut out);
            } else {
                for i in 0..n {
                    let b = self.chunk[i];
                    self.step(b, &mut out);
                }
            }
            // Everything read may have been dropped: then read on, so that
            // 0 still means the end of the input.
            self.out = out;
        }
    }
}

/// The next record's shape, taken in step with the CSV reader.
pub(crate) fn next_shape(shapes: &Shapes) -> Option<RecordShape> {
    shapes.borrow_mut().pop_front()
}

/// One line of JSON Lines input: its number, then its text or why it was
/// rejected.
pub(crate) type JsonLine = std::result::Result<(u64, String), (u64, String)>;

/// The non-blank lines of `input` with their numbers (from 1), each at most
/// [`MAX_RECORD_BYTES`] long, valid UTF-8, with one BOM at the start of the
/// input skipped.
pub(crate) fn json_lines(input: impl BufRead) -> impl Iterator<Item = JsonLine> {
    let mut input = input;
    let mut number = 0u64;
    std::iter::from_fn(move || loop {
        let mut buf = Vec::new();
        number += 1;
        let n = match Read::by_ref(&mut input)
            .take(MAX_RECORD_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) => return None,
            Ok(n) => n,
            Err(e) => return Some(Err((number, format!("unreadable line: {e}")))),
        };
        if n > MAX_RECORD_BYTES && buf.last() != Some(&b'\n') {
            // Skip the rest of the overlong line without holding it.
            if let Err(e) = skip_line(&mut input) {
                return Some(Err((number, format!("unreadable line: {e}"))));
            }
            return Some(Err((
                number,
                format!("line longer than {MAX_RECORD_BYTES} bytes"),
            )));
        }
        let mut bytes = buf.as_slice();
        if number == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Some(Err((number, "not valid UTF-8".to_owned())));
        };
        if text.trim().is_empty() {
            continue;
        }
        return Some(Ok((number, text.trim().to_owned())));
    })
}

/// Consumes input up to and including the next newline, a buffer at a time.
fn skip_line(input: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = available.len();
                input.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<u8>, Vec<RecordShape>) {
        let (mut guard, shapes) = CsvGuard::new(input);
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = guard.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        let shapes = shapes.borrow().iter().copied().collect();
        (out, shapes)
    }

    #[test]
    fn passes_csv_through_and_numbers_records_by_their_first_line() {
        let input = b"a,b\r\n\"x\ny\",\"q\"\"\"\n\n3,4";
        let (out, shapes) = run(input);
        assert_eq!(out, input);
        let lines: Vec<u64> = shapes.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![1, 2, 5]);
        assert!(shapes.iter().all(|s| s.problem().is_none()));
    }

    #[test]
    fn an_unclosed_quote_is_noted_on_its_record() {
        let (_, shapes) = run(b"name\n\"Ann\nBob\n");
        assert_eq!(shapes.len(), 2);
        assert!(shapes[1].unclosed_quote);
        // A quote inside an unquoted field is data.
        let (_, shapes) = run(b"name\n5\" pipe\n");
        assert!(shapes.iter().all(|s| !s.unclosed_quote));
    }

    #[test]
    fn an_overlong_record_is_cut_and_the_next_one_is_intact() {
        let mut input = b"h\n\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        input.extend_from_slice(b"\"\nnext\n");
        let (out, shapes) = run(&input);
        assert!(out.len() < MAX_RECORD_BYTES + 20);
        assert!(out.ends_with(b"\"\nnext\n"), "the cut field is closed");
        assert_eq!(shapes.len(), 3);
        assert!(shapes[1].overlong);
        assert_eq!(shapes[2].line, 3);
        assert!(shapes[2].problem().is_none());
    }

    #[test]
    fn json_lines_skip_one_leading_bom_and_refuse_invalid_utf8() {
        let input: &[u8] = b"\xEF\xBB\xBF{\"a\":1}\n\n{\"b\":\"\xFF\"}\n\xEF\xBB\xBF{}\n";
        let lines: Vec<JsonLine> = json_lines(input).collect();
        assert_eq!(lines[0], Ok((1, "{\"a\":1}".to_owned())));
        assert_eq!(lines[1], Err((3, "not valid UTF-8".to_owned())));
        // A BOM anywhere else is text, and JSON refuses it later.
        assert_eq!(lines[2], Ok((4, "\u{feff}{}".to_owned())));
    }
}
