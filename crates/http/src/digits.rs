//! The decimal digits of an unsigned integer, for the numbers of a response
//! head (status, `Content-Length`), without the formatting machinery.

/// The digits of one number, held on the stack.
pub(crate) struct Digits {
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
        }
    }
}
