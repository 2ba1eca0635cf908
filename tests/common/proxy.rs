//! A TCP proxy on loopback whose answers (server → client bytes) can be held back: the
//! requests still reach the server and run, the client just does not hear of it yet.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};

/// The proxy; it runs until the test process ends.
pub struct Proxy {
    pub port: u16,
    held: Arc<(Mutex<bool>, Condvar)>,
}

impl Proxy {
    /// Forwards every connection to `127.0.0.1:target`.
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let held = Arc::new((Mutex::new(false), Condvar::new()));
        let shared = held.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                let (c, s) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                std::thread::spawn(move || pump(client, server, None));
                let held = shared.clone();
                std::thread::spawn(move || pump(s, c, Some(held)));
            }
        });
        Self { port, held }
    }

    /// Holds back (`true`) or lets through (`false`) every answer from now on.
    pub fn hold_answers(&self, hold: bool) {
        let (lock, changed) = &*self.held;
        *lock.lock().expect("lock") = hold;
        changed.notify_all();
    }
}

/// Copies `from` to `to`; with `held`, waits before each chunk while it is set.
fn pump(mut from: TcpStream, mut to: TcpStream, held: Option<Arc<(Mutex<bool>, Condvar)>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(held) = &held {
            let (lock, changed) = &**held;
            let _guard = changed.wait_while(lock.lock().expect("lock"), |hold| *hold).expect("lock");
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
