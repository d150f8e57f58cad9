//! Line-by-line normalisation of a stream: [`normalize_stream`], the engine of `naba normalize`.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use super::normalize::Normalizer;
use crate::error::{Error, Result};

/// Reads `reader` line by line, writes each line normalised to `writer` with its original line
/// ending (`\n`, `\r\n`, or none on a last unterminated line), and returns the number of lines.
///
/// `input` and `output` name the two ends in error messages (e.g. `<stdin>`, `<stdout>`); a
/// line that is not UTF-8 is an error naming `input` and its 1-based line number.
pub fn normalize_stream(
    reader: impl BufRead,
    writer: impl Write,
    normalizer: &Normalizer,
    input: &Path,
    output: &Path,
) -> Result<usize> {
    let mut reader = reader;
    let mut writer = BufWriter::with_capacity(1 << 16, writer);
    let mut raw = Vec::new();
    let mut normalized = String::new();
    let mut lines = 0;
    loop {
        raw.clear();
        if reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| Error::io(input, e))?
            == 0
        {
            break;
        }
        lines += 1;
        let line = std::str::from_utf8(&raw).map_err(|e| {
            Error::format(
                input,
                lines,
                format!("not UTF-8 (byte {})", e.valid_up_to() + 1),
            )
        })?;
        let content = line.strip_suffix('\n').unwrap_or(line);
        let content = content.strip_suffix('\r').unwrap_or(content);
        normalized.clear();
        normalizer.normalize_into(content, &mut normalized);
        writer
            .write_all(normalized.as_bytes())
            .and_then(|()| writer.write_all(&raw[content.len()..]))
            .map_err(|e| Error::io(output, e))?;
    }
    writer.flush().map_err(|e| Error::io(output, e))?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::NormalizerConfig;

    fn run(input: &[u8]) -> Result<(String, usize)> {
        let normalizer = Normalizer::new(NormalizerConfig::preset("arabert")?);
        let mut out = Vec::new();
        let lines = normalize_stream(
            input,
            &mut out,
            &normalizer,
            Path::new("in"),
            Path::new("out"),
        )?;
        Ok((String::from_utf8(out).unwrap(), lines))
    }

    #[test]
    fn keeps_line_endings_and_counts_lines() {
        let (out, lines) = run("كَتَبَ  ١\r\n\nالعـــرب".as_bytes()).unwrap();
        assert_eq!(out, "كتب 1\r\n\nالعرب");
        assert_eq!(lines, 3);
        assert_eq!(run(b"").unwrap(), (String::new(), 0));
    }

    #[test]
    fn invalid_utf8_names_file_and_line() {
        let err = run(b"ok\n\xff\xfe\n").unwrap_err().to_string();
        assert_eq!(err, "in:2: not UTF-8 (byte 1)");
    }
}
