//! The local server's own limits, on the wire: a slow or idle client cannot hold a
//! connection, and a shutdown answers the requests in flight before it returns.

use std::time::{Duration, Instant};

use neptun_users::server::ServerLimits;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::common::raw_http::{Trickler, read_response, read_until_closed, start_tricklers};
use crate::common::*;
use serde_json::{Value, json};

use super::user_body;

async fn app_with(limits: ServerLimits) -> TestApp {
    let memory = std::sync::Arc::new(neptun_users::store::MemoryStore::new());
    spawn_app_limited(limits, config(&[]), memory.clone(), Some(memory)).await
}

#[tokio::test]
async fn a_client_trickling_its_header_is_disconnected_after_the_header_timeout() {
    let timeout = Duration::from_millis(400);
    let app = app_with(ServerLimits {
        header_read_timeout: timeout,
        idle_timeout: Duration::from_secs(30),
        ..ServerLimits::default()
    })
    .await;
    let (read, mut write) = TcpStream::connect(&app.host).await.unwrap().into_split();
    let started = Instant::now();
    // One byte of a header line every 50 ms, until the server stops taking them.
    let trickle = async {
        let head = b"PATCH /api/users/1 HTTP/1.1\r\nHost: a\r\nX-Slow: ";
        let mut sent = write.write_all(head).await;
        while sent.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            sent = write.write_all(b"z").await;
        }
    };
    let mut read = BufReader::new(read);
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        tokio::select! {
            sent = read_until_closed(&mut read) => sent,
            () = trickle => Vec::<u8>::new(),
        }
    })
    .await
    .expect("the server closed the connection");

    let elapsed = started.elapsed();
    assert!(
        elapsed >= timeout - Duration::from_millis(50) && elapsed < timeout * 4,
        "closed after the header timeout: {elapsed:?}"
    );
    let sent = String::from_utf8_lossy(&closed);
    assert!(
        !sent.contains("HTTP/1.1 2") && !sent.contains("HTTP/1.1 4") || sent.contains(" 408 "),
        "no answer but a timeout: {sent:?}"
    );
}

#[tokio::test]
async fn a_client_trickling_its_body_is_disconnected_within_the_request_deadline() {
    let deadline = Duration::from_millis(1000);
    let memory = std::sync::Arc::new(neptun_users::store::MemoryStore::new());
    let app = spawn_app_limited(
        ServerLimits::default(),
        config(&[("REQUEST_DEADLINE_MS", "1000")]),
        memory.clone(),
        Some(memory),
    )
    .await;

    // A byte every 300 ms: each read succeeds long before any per-read timeout would fire.
    let (closed_after, sent) = Trickler::connect(&app.host)
        .await
        .until_closed(Duration::from_millis(300), Duration::from_secs(10))
        .await;

    assert!(
        closed_after < deadline + Duration::from_millis(500),
        "disconnected within the deadline: {closed_after:?}"
    );
    assert!(
        sent.is_empty(),
        "no answer, the connection is closed: {:?}",
        String::from_utf8_lossy(&sent)
    );
    let logs = captured_logs();
    assert!(
        logs.contains("request body not received within the deadline"),
        "the disconnection is logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_trickling_bodies_do_not_stop_the_server_answering_others() {
    const TRICKLERS: usize = 1000;
    let deadline = Duration::from_millis(3000);
    let memory = std::sync::Arc::new(neptun_users::store::MemoryStore::new());
    let app = spawn_app_limited(
        ServerLimits::default(),
        config(&[("REQUEST_DEADLINE_MS", "3000")]),
        memory.clone(),
        Some(memory),
    )
    .await;
    let user = app.seed("a@example.com", "old-password").await;
    let started = Instant::now();
    let tricklers = start_tricklers(
        &app.host,
        TRICKLERS,
        Duration::from_millis(300),
        Duration::from_secs(20),
    )
    .await;
    // Every trickler has sent its head and a byte or two more before the ordinary request.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let asked = Instant::now();
    let response = app
        .patch(user.id, &user.cookie, r#"{"email":"b@example.com"}"#)
        .await;
    let answered_after = asked.elapsed();

    assert_eq!(
        (response.status, response.text.as_str()),
        (200, user_body(user.id, "b@example.com").as_str())
    );
    assert!(
        answered_after < Duration::from_secs(1),
        "answered within a second while {TRICKLERS} trickle: {answered_after:?}"
    );
    for trickler in tricklers {
        let (_, sent) = trickler.await.unwrap();
        assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
    }
    let all_closed = started.elapsed();
    assert!(
        all_closed < deadline + Duration::from_secs(3),
        "every trickler was disconnected soon after the deadline: {all_closed:?}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(400);
    let app = app_with(ServerLimits {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: idle,
        ..ServerLimits::default()
    })
    .await;
    let (read, mut write) = TcpStream::connect(&app.host).await.unwrap().into_split();
    let mut read = BufReader::new(read);
    let request = b"PATCH /api/users/1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

    // Two requests on one kept-alive connection, then silence.
    for _ in 0..2 {
        write.write_all(request).await.unwrap();
        let response = read_response(&mut read).await.unwrap();
        assert_eq!(
            (
                response.status,
                serde_json::from_str::<Value>(&response.body).unwrap()
            ),
            (401, error_body(401, "Unauthorized", None))
        );
    }
    let answered = Instant::now();
    let rest = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut read))
        .await
        .expect("the server closed the idle connection");

    let elapsed = answered.elapsed();
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        elapsed >= idle - Duration::from_millis(50) && elapsed < idle * 4,
        "closed after the idle timeout: {elapsed:?}"
    );
}

#[tokio::test]
async fn shutdown_answers_the_request_in_flight_then_the_server_returns() {
    let mut app = app_with(ServerLimits::default()).await;
    let user = app.seed("a@example.com", "old-password").await;
    let body = r#"{"email":"after-shutdown@example.com"}"#;
    let (read, mut write) = TcpStream::connect(&app.host).await.unwrap().into_split();
    let mut read = BufReader::new(read);
    write
        .write_all(
            format!(
                "PATCH /api/users/{} HTTP/1.1\r\nHost: a\r\nCookie: {}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                user.id,
                user.cookie,
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // The interim answer comes when the handler starts reading the body: in flight.
    let interim = read_response(&mut read).await.unwrap();
    assert_eq!(interim.status, 100, "{interim:?}");

    let mut served = app.shut_down();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut served)
            .await
            .is_err(),
        "the server does not return while a request is in flight"
    );
    write.write_all(body.as_bytes()).await.unwrap();
    let response = read_response(&mut read).await.unwrap();

    assert_eq!(
        (
            response.status,
            serde_json::from_str::<Value>(&response.body).unwrap()
        ),
        (
            200,
            json!({"user": {"id": user.id, "primary_email": "after-shutdown@example.com"}})
        )
    );
    assert!(
        response
            .head
            .to_ascii_lowercase()
            .contains("connection: close"),
        "the connection closes after its last answer: {}",
        response.head
    );
    let result = tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("the server returned once it had answered");
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
    assert!(
        TcpStream::connect(&app.host).await.is_err(),
        "no connection is accepted any more"
    );
}
