//! The decimal digits of an unsigned integer, without the formatting
//! machinery: for the numbers of a response head (status, `Content-Length`),
//! and exported for the program's own hot paths (the exporter writes its
//! whole-number sample values with it).

/// The digits of one number, held on the stack.
pub struct Digits {
    bytes: [u8; 20],
    start: usize,
}

impl Digits {
    pub fn new(mut n: u64) -> Digits {
        // 20 digits hold u64::MAX.
        let mut bytes = [0u8; 20];
        let mut start = bytes.len();
        loop {
            start -= 1;
            bytes[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Digits { bytes, start }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(self.as_bytes()).unwrap_or("0")
    }
}

#[cfg(test)]
mod tests {
    use super::Digits;

    #[test]
    fn digits_are_what_display_writes() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            200,
            404,
            65_535,
            999_999,
            1_000_000,
            u64::MAX,
        ] {
            assert_eq!(Digits::new(n).as_bytes(), n.to_string().as_bytes(), "{n}");
            assert_eq!(Digits::new(n).as_str(), n.to_string(), "{n}");
        }
    }
}
