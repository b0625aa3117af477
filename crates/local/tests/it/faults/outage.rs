//! A TCP proxy that can play "the emulator stopped": while down it closes its listening socket (new
//! connections are refused) and cuts every open connection mid-request; back up, it listens on the
//! same port and forwards again.
//!
//! What it cannot play: a restart's loss of state. moto keeps everything in memory, so restarting
//! it for real would empty the table and the queue and make "nothing acknowledged was lost"
//! meaningless; real SQS and DynamoDB keep their data across an outage. Nor does it play a black
//! hole (packets dropped without an answer), where only the SDK's timeouts would help.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct OutageProxy {
    pub addr: SocketAddr,
    up: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl OutageProxy {
    pub async fn start(upstream: SocketAddr) -> OutageProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, state) = watch::channel(true);
        let task = tokio::spawn(serve(listener, addr, upstream, state));
        OutageProxy { addr, up, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn down(&self) {
        self.up.send_replace(false);
    }

    pub fn up(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for OutageProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut state: watch::Receiver<bool>,
) {
    // Handed to each connection, so that the select below may hold `state` borrowed.
    let connections = state.clone();
    let mut listener = Some(listener);
    loop {
        match listener.take() {
            Some(open) => {
                tokio::select! {
                    accepted = open.accept() => {
                        if let Ok((inbound, _)) = accepted {
                            tokio::spawn(forward(inbound, upstream, connections.clone()));
                        }
                        listener = Some(open);
                    }
                    // Going down: the listener is dropped here, so connecting is refused.
                    _ = state.wait_for(|up| !*up) => {}
                }
            }
            None => {
                if state.wait_for(|up| *up).await.is_err() {
                    return;
                }
                listener = Some(rebind(addr).await);
            }
        }
    }
}

/// The same port again; a few tries in case the kernel is slow to let go of it.
async fn rebind(addr: SocketAddr) -> TcpListener {
    for _ in 0..50 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outage proxy could not listen on {addr} again");
}

async fn forward(mut inbound: TcpStream, upstream: SocketAddr, mut state: watch::Receiver<bool>) {
    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
        // Both sockets drop here: whatever was in flight is cut.
        _ = state.wait_for(|up| !*up) => {}
    }
}
