//! A TCP proxy on loopback for network faults: answers (server → client bytes) can be held
//! back while the requests still reach the server and run, and every connection can be cut
//! (reset now, refused while cut).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// The proxy; it runs until the test process ends.
pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Connection {
    request: Mutex<Vec<u8>>,
    waiting: AtomicBool,
}

#[derive(Default)]
struct Shared {
    held: Mutex<bool>,
    changed: Condvar,
    cut: AtomicBool,
    /// Each connection's latest request head, and whether its answer is held back now.
    connections: Mutex<Vec<Arc<Connection>>>,
    open: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    /// Forwards every connection to `127.0.0.1:target`.
    pub fn start(target: u16) -> Self {
        Self::listen(0, target)
    }

    /// Listens on `port` (0: any free one) and forwards to `127.0.0.1:target`.
    pub fn listen(port: u16, target: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if accepting.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let (c, s) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                accepting.open.lock().expect("lock").extend([client.try_clone().expect("clone"), server.try_clone().expect("clone")]);
                let connection = Arc::new(Connection::default());
                accepting.connections.lock().expect("lock").push(connection.clone());
                let requests = connection.clone();
                std::thread::spawn(move || pump(client, server, |chunk| {
                    if [&b"POST "[..], b"GET ", b"PUT ", b"HEAD ", b"DELETE "].iter().any(|method| chunk.starts_with(method)) {
                        *requests.request.lock().expect("lock") = chunk[..chunk.len().min(4096)].to_vec();
                    }
                }));
                let shared = accepting.clone();
                std::thread::spawn(move || pump(s, c, |_| {
                    connection.waiting.store(true, Ordering::SeqCst);
                    let _held = shared.changed.wait_while(shared.held.lock().expect("lock"), |hold| *hold).expect("lock");
                    connection.waiting.store(false, Ordering::SeqCst);
                }));
            }
        });
        Self { port, shared }
    }

    /// Holds back (`true`) or lets through (`false`) every answer from now on.
    pub fn hold_answers(&self, hold: bool) {
        *self.shared.held.lock().expect("lock") = hold;
        self.shared.changed.notify_all();
    }

    /// How many answers the server sent are held back now, to requests whose head (HTTP
    /// request line and headers) contains `request`.
    pub fn held(&self, request: &str) -> usize {
        let connections = self.shared.connections.lock().expect("lock");
        connections.iter().filter(|c| c.waiting.load(Ordering::SeqCst) && c.request.lock().expect("lock").windows(request.len()).any(|w| w == request.as_bytes())).count()
    }

    /// Cuts (`true`: every open connection is reset and new ones are closed at once) or
    /// restores (`false`) the network.
    pub fn cut(&self, cut: bool) {
        self.shared.cut.store(cut, Ordering::SeqCst);
        if cut {
            for stream in self.shared.open.lock().expect("lock").drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copies `from` to `to`, calling `before` with each chunk before passing it on.
fn pump(mut from: TcpStream, mut to: TcpStream, mut before: impl FnMut(&[u8])) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        before(&buf[..n]);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
