//! The landing page `/`: what a person sees who opens the exporter in a
//! browser. Each collector adds what it knows ([`crate::collector::Collector::status`])
//! from the same snapshot its metrics come from, so a page view costs no
//! dashboard or USB I/O. Plain HTML with inline CSS, no script, nothing
//! loaded from elsewhere; every text from a collector is escaped here.

use std::fmt::Write as _;
use std::time::Duration;

/// How a value reads at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Plain,
    Good,
    Bad,
}

enum Item {
    /// Label, a smaller second line under the label, value.
    Row(String, Option<String>, String, Mark),
    Text(String),
}

pub struct Section {
    title: &'static str,
    items: Vec<Item>,
}

impl Section {
    /// A `label: value` line.
    pub fn row(&mut self, label: &str, value: &str) -> &mut Self {
        self.marked(label, value, Mark::Plain)
    }

    pub(crate) fn marked(&mut self, label: &str, value: &str, mark: Mark) -> &mut Self {
        self.items
            .push(Item::Row(label.to_string(), None, value.to_string(), mark));
        self
    }

    /// A line whose label has a smaller second line (a sensor and its phy).
    pub(crate) fn detailed(&mut self, label: &str, detail: &str, value: &str) -> &mut Self {
        self.items.push(Item::Row(
            label.to_string(),
            Some(detail.to_string()),
            value.to_string(),
            Mark::Plain,
        ));
        self
    }

    /// A sentence on its own.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.items.push(Item::Text(text.to_string()));
        self
    }
}

/// The page under construction.
#[derive(Default)]
pub struct Page {
    name: Option<String>,
    sections: Vec<Section>,
}

const STYLE: &str = "\
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:42rem;padding:1rem;color:#1b1f23;background:#fff}\
h1{font-size:1.6rem;margin:.2rem 0;overflow-wrap:anywhere}\
.sub{color:#57606a;margin:0 0 1rem}\
h2{font-size:1.1rem;margin:1.4rem 0 .4rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}\
table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.3rem .6rem .3rem 0;vertical-align:top;overflow-wrap:break-word}\
th{font-weight:normal;color:#57606a;width:45%}\
small{display:block;font-size:.8rem;color:#6e7781;overflow-wrap:anywhere}\
td{font-variant-numeric:tabular-nums}\
.good{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}\
code{font-size:.9em;white-space:nowrap}\
a{color:#0969da}";

impl Page {
    pub fn new() -> Self {
        Self::default()
    }

    /// The page's heading: the miner's name, when it is known.
    pub(crate) fn set_name(&mut self, name: &str) {
        if !name.trim().is_empty() {
            self.name = Some(name.to_string());
        }
    }

    /// The section titled `title`, made on first use; sections keep the
    /// order they were first asked for in.
    pub(crate) fn section(&mut self, title: &'static str) -> &mut Section {
        let i = match self.sections.iter().position(|s| s.title == title) {
            Some(i) => i,
            None => {
                self.sections.push(Section {
                    title,
                    items: Vec::new(),
                });
                self.sections.len() - 1
            }
        };
        &mut self.sections[i]
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
        );
        if let Some(name) = &self.name {
            escape_html_into(&mut out, name);
            out.push_str(" · ");
        }
        out.push_str("Linxdot Exporter</title>\n<style>");
        out.push_str(STYLE);
        out.push_str("</style>\n</head>\n<body>\n<h1>");
        match &self.name {
            Some(name) => escape_html_into(&mut out, name),
            None => out.push_str("Linxdot Exporter"),
        }
        out.push_str(
            "</h1>\n<p class=\"sub\">Linxdot Exporter · <a href=\"/metrics\">Metrics</a></p>\n",
        );
        for section in &self.sections {
            out.push_str("<section>\n<h2>");
            escape_html_into(&mut out, section.title);
            out.push_str("</h2>\n");
            let mut in_rows = false;
            for item in &section.items {
                let row = matches!(item, Item::Row(..));
                if row && !in_rows {
                    out.push_str("<table>\n");
                } else if !row && in_rows {
                    out.push_str("</table>\n");
                }
                in_rows = row;
                match item {
                    Item::Row(label, detail, value, mark) => {
                        out.push_str("<tr><th>");
                        escape_html_into(&mut out, label);
                        if let Some(detail) = detail {
                            out.push_str("<small>");
                            escape_html_into(&mut out, detail);
                            out.push_str("</small>");
                        }
                        out.push_str("</th><td");
                        out.push_str(match mark {
                            Mark::Plain => "",
                            Mark::Good => " class=\"good\"",
                            Mark::Bad => " class=\"bad\"",
                        });
                        out.push('>');
                        escape_text_into(&mut out, value);
                        out.push_str("</td></tr>\n");
                    }
                    Item::Text(text) => {
                        out.push_str("<p>");
                        escape_text_into(&mut out, text);
                        out.push_str("</p>\n");
                    }
                }
            }
            if in_rows {
                out.push_str("</table>\n");
            }
            out.push_str("</section>\n");
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}

/// Appends `text` with `&`, `<`, `>`, `"` and `'` escaped, so it reads as
/// text in element content and in quoted attribute values alike.
pub(crate) fn escape_html_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A message for the page: escaped as [`escape_html_into`] does, and each
/// command-line flag in it (`-u`, `--no-temper`) wrapped in `<code>`, which
/// the page's style keeps on one line: a narrow screen never breaks a flag
/// at its hyphens.
pub fn escape_text_into(out: &mut String, text: &str) {
    let mut rest = text;
    let mut previous = ' ';
    while let Some(c) = rest.chars().next() {
        let flag_len = if matches!(previous, ' ' | '(' | '[' | '/' | ',' | '\'' | '"') {
            flag_length(rest)
        } else {
            0
        };
        if flag_len > 0 {
            out.push_str("<code>");
            escape_html_into(out, &rest[..flag_len]);
            out.push_str("</code>");
            previous = '-';
            rest = &rest[flag_len..];
        } else {
            escape_html_into(out, &rest[..c.len_utf8()]);
            previous = c;
            rest = &rest[c.len_utf8()..];
        }
    }
}

/// The length of the flag `text` starts with (`-a`, `--password-file`), or 0:
/// one or two hyphens, a letter, then letters, digits, `_` and `-`.
fn flag_length(text: &str) -> usize {
    let bytes = text.as_bytes();
    let dashes = bytes.iter().take(2).take_while(|&&b| b == b'-').count();
    if dashes == 0 || !bytes.get(dashes).is_some_and(u8::is_ascii_alphabetic) {
        return 0;
    }
    let name = bytes[dashes..]
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        .count();
    dashes + name
}

/// `3 s`, `4 min 10 s`, `2 h 5 min`, `3 d 4 h`.
pub(crate) fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let mut out = String::new();
    let _ = match () {
        _ if days > 0 => write!(out, "{days} d {hours} h"),
        _ if hours > 0 => write!(out, "{hours} h {minutes} min"),
        _ if minutes > 0 => write!(out, "{minutes} min {seconds} s"),
        _ => write!(out, "{seconds} s"),
    };
    out
}

/// A reading with its unit, one decimal: `35.6 °C`; `–` when there is none.
pub(crate) fn reading_text(value: Option<f64>, unit: &str) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.1} {unit}"),
        _ => "–".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_table() {
        let table = [
            ("plain", "plain"),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            (
                "say \"hi\" & 'bye'",
                "say &quot;hi&quot; &amp; &#39;bye&#39;",
            ),
            ("&amp;", "&amp;amp;"),
            ("Zürich °C ✓", "Zürich °C ✓"),
            ("two\nlines", "two\nlines"),
            ("", ""),
        ];
        for (input, want) in table {
            let mut out = String::new();
            escape_html_into(&mut out, input);
            assert_eq!(out, want, "{input:?}");
        }
    }

    #[test]
    fn flags_in_messages_are_kept_on_one_line() {
        let table = [
            (
                "USB sensors are off (--no-temper)",
                "USB sensors are off (<code>--no-temper</code>)",
            ),
            (
                "check -u, -p or --password-file, or add -a",
                "check <code>-u</code>, <code>-p</code> or <code>--password-file</code>, \
                 or add <code>-a</code>",
            ),
            ("--timeout: x", "<code>--timeout</code>: x"),
            (
                "(-p/--password-file)",
                "(<code>-p</code>/<code>--password-file</code>)",
            ),
            // Not flags: hyphens inside words, numbers, dashes alone.
            (
                "fancy-lime-wolf at usb-1.2 reads -1.5 °C - ok -- fine",
                "fancy-lime-wolf at usb-1.2 reads -1.5 °C - ok -- fine",
            ),
            ("---x", "---x"),
            ("--<b>", "--&lt;b&gt;"),
            ("'-a'", "&#39;<code>-a</code>&#39;"),
        ];
        for (input, want) in table {
            let mut out = String::new();
            escape_text_into(&mut out, input);
            assert_eq!(out, want, "{input:?}");
        }
        let mut page = Page::new();
        page.section("Not running")
            .row("miner", "no password (-p or --password-file)")
            .text("turn it on with --temper");
        let html = page.render();
        assert!(
            html.contains("code{font-size:.9em;white-space:nowrap}"),
            "{html}"
        );
        assert!(
            html.contains("<td>no password (<code>-p</code> or <code>--password-file</code>)</td>"),
            "{html}"
        );
        assert!(
            html.contains("<p>turn it on with <code>--temper</code></p>"),
            "{html}"
        );
    }

    #[test]
    fn durations() {
        let table = [
            (0, "0 s"),
            (59, "59 s"),
            (61, "1 min 1 s"),
            (3600 + 120, "1 h 2 min"),
            (2 * 86_400 + 3 * 3600 + 5, "2 d 3 h"),
        ];
        for (secs, want) in table {
            assert_eq!(duration_text(Duration::from_secs(secs)), want);
        }
    }

    #[test]
    fn every_text_is_escaped() {
        let mut page = Page::new();
        page.set_name("<b>x</b>");
        page.section("S")
            .row("<l>", "\"v\"")
            .marked("m", "<bad>", Mark::Bad)
            .detailed("<h>", "<c>", "x")
            .text("<t>");
        let html = page.render();
        for raw in ["<b>", "<l>", "\"v\"", "<bad>", "<h>", "<c>", "<t>"] {
            assert!(!html.contains(raw), "{raw} unescaped in {html}");
        }
        assert!(html.contains("<title>&lt;b&gt;x&lt;/b&gt; · Linxdot Exporter</title>"));
        assert!(html.contains("<td class=\"bad\">&lt;bad&gt;</td>"));
        assert!(html.contains("<a href=\"/metrics\">Metrics</a>"));
    }
}
