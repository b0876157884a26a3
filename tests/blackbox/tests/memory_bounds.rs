//! Bounds on what clients can make kosh hold, over TCP, on SQLite and on PostgreSQL: with
//! `KOSH_MAX_CONNECTIONS` connections open, another one is not served (it waits in the
//! listen backlog, kosh holds nothing for it) until one of them closes, and then it is.

use std::time::Duration;

use kosh_blackbox::{Backend, Kosh, on_both_databases, one_instance};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_both_databases!(connections_beyond_the_cap_wait_until_one_closes);

/// A keep-alive request: the connection stays open after its answer.
const READY: &[u8] = b"GET /ready HTTP/1.1\r\nhost: kosh\r\n\r\n";

/// Long enough for any answer on a busy machine; a served request never comes near it.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// How long the connection beyond the cap is watched for an answer it must not get. Its
/// request is already in kosh's socket backlog, so a kosh that accepted it would answer in
/// milliseconds.
const NOT_ANSWERED_FOR: Duration = Duration::from_secs(2);

/// Sends a keep-alive `/ready` and returns the status line of the answer, if one came within
/// `wait`.
async fn ready(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    stream.write_all(READY).await.expect("send request");
    whole_answer(stream, wait).await
}

/// Reads one whole answer (head, then a body of its `content-length`) and returns its status
/// line, or `None` if no answer came within `wait`. A whole answer, so that the connection's
/// next request reads its own.
async fn whole_answer(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let read = async {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).await.expect("read answer");
            assert!(n > 0, "kosh closed the connection without an answer");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("an answer with a content-length");
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.expect("read body");
        head.lines().next().unwrap_or_default().to_string()
    };
    tokio::time::timeout(wait, read).await.ok()
}

async fn connections_beyond_the_cap_wait_until_one_closes(backend: Backend) {
    one_instance("the cap is on one instance's listener");
    let mut kosh = Kosh::start_with(backend, |s| s.max_connections = 2).await;
    // The harness signed in over a keep-alive connection of its own, which would hold one
    // of the two places: a new client drops it (closing its pooled connections).
    kosh.client = reqwest::Client::new();
    let addr = kosh
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();

    // Two clients take both places and keep them, idle, after their answers.
    let mut first = TcpStream::connect(&addr).await.expect("connect");
    let mut second = TcpStream::connect(&addr).await.expect("connect");
    for stream in [&mut first, &mut second] {
        let answer = ready(stream, ANSWER_WITHIN).await;
        assert_eq!(answer.as_deref(), Some("HTTP/1.1 200 OK"));
    }

    // A third connects (the kernel completes the handshake) but is not served.
    let mut third = TcpStream::connect(&addr).await.expect("connect");
    let answer = ready(&mut third, NOT_ANSWERED_FOR).await;
    assert_eq!(
        answer, None,
        "a third connection was served while two were open"
    );

    // The served connections still are: the cap does not stop them.
    let answer = ready(&mut second, ANSWER_WITHIN).await;
    assert_eq!(answer.as_deref(), Some("HTTP/1.1 200 OK"));

    // One closes; the third is accepted and its waiting request answered.
    drop(first);
    let answer = whole_answer(&mut third, ANSWER_WITHIN).await;
    assert_eq!(answer.as_deref(), Some("HTTP/1.1 200 OK"));
    drop((second, third));
    kosh.stop().await;
}
