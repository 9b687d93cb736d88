//! HTTP/1.1 by hand, for tests that need to control every byte and every pause on the wire
//! (a trickled header, a body sent after an interim `100 Continue`, an idle connection).

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// A response as read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    pub body: String,
}

/// Reads one response: the head up to its blank line, then `Content-Length` bytes of body
/// (none for an interim 1xx response).
pub async fn read_response<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<RawResponse> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head:?}"));
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(RawResponse {
        status,
        head,
        body: String::from_utf8(body).expect("a UTF-8 body"),
    })
}

/// Reads until the server closes the connection; what it sent before, if anything.
pub async fn read_until_closed<R: AsyncBufRead + Unpin>(reader: &mut R) -> Vec<u8> {
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest).await;
    rest
}
