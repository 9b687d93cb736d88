//! HTTP/1.1 by hand, for tests that need to control every byte and every pause on the wire
//! (a trickled header, a body sent after an interim `100 Continue`, an idle connection).

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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

/// The head of a request announcing the largest body the endpoint takes, and its first byte.
pub const TRICKLED_HEAD: &[u8] = b"PATCH /api/users/1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 16000\r\n\r\n{";

/// A connection that has sent [`TRICKLED_HEAD`] and goes on with its body a byte at a time.
pub struct Trickler {
    read: BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
    started: Instant,
}

impl Trickler {
    /// Connects to `host` and sends [`TRICKLED_HEAD`].
    pub async fn connect(host: &str) -> Self {
        let (read, mut write) = TcpStream::connect(host).await.unwrap().into_split();
        write.write_all(TRICKLED_HEAD).await.unwrap();
        Self {
            read: BufReader::new(read),
            write,
            started: Instant::now(),
        }
    }

    /// Sends one byte of body every `every` until the server closes the connection. Returns
    /// how long after the head that was, and what the server sent before closing; panics if
    /// it is still open after `give_up`.
    pub async fn until_closed(mut self, every: Duration, give_up: Duration) -> (Duration, Vec<u8>) {
        let write = &mut self.write;
        let trickle = async {
            loop {
                tokio::time::sleep(every).await;
                if write.write_all(b" ").await.is_err() {
                    return;
                }
            }
        };
        let read = &mut self.read;
        let sent = tokio::time::timeout(give_up, async {
            tokio::select! {
                sent = read_until_closed(read) => sent,
                () = trickle => Vec::new(),
            }
        })
        .await
        .unwrap_or_else(|_| panic!("still connected after {give_up:?}"));
        (self.started.elapsed(), sent)
    }
}

/// Many [`Trickler`]s, every one connected and its head sent, then trickling on their own.
pub async fn start_tricklers(
    host: &str,
    count: usize,
    every: Duration,
    give_up: Duration,
) -> Vec<tokio::task::JoinHandle<(Duration, Vec<u8>)>> {
    let connected = futures::future::join_all((0..count).map(|_| Trickler::connect(host))).await;
    connected
        .into_iter()
        .map(|trickler| tokio::spawn(trickler.until_closed(every, give_up)))
        .collect()
}
