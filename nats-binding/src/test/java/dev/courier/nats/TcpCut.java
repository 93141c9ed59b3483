package dev.courier.nats;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A TCP relay to the shared NATS server that can cut every connection through it and refuse new ones for a while. */
final class TcpCut implements AutoCloseable {

    private final int port;
    private final String host;
    private final int targetPort;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile ServerSocket server;
    private volatile boolean closed;
    /** While set, nothing is forwarded in either direction (the connection stays up). */
    volatile boolean hold;

    TcpCut(String host, int targetPort) throws IOException {
        this.host = host;
        this.targetPort = targetPort;
        ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.port = s.getLocalPort();
        listen(s);
    }

    int port() {
        return port;
    }

    private void listen(ServerSocket s) {
        server = s;
        Thread t = new Thread(() -> {
            while (!s.isClosed()) {
                try {
                    Socket in = s.accept();
                    Socket out = new Socket(host, targetPort);
                    sockets.add(in);
                    sockets.add(out);
                    pump(in, out);
                    pump(out, in);
                } catch (IOException e) {
                    return;
                }
            }
        }, "tcpcut-accept");
        t.setDaemon(true);
        t.start();
    }

    private void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[65536];
            try (InputStream i = from.getInputStream(); OutputStream o = to.getOutputStream()) {
                int n;
                while ((n = i.read(buf)) >= 0) {
                    while (hold) {
                        Thread.sleep(5);
                    }
                    o.write(buf, 0, n);
                    o.flush();
                }
            } catch (IOException | InterruptedException ignored) {
                // cut
            } finally {
                quietly(from);
                quietly(to);
            }
        }, "tcpcut-pump");
        t.setDaemon(true);
        t.start();
    }

    /** Cuts every connection and refuses new ones until {@link #restore()}. */
    void cut() throws IOException {
        server.close();
        for (Socket s : sockets) {
            quietly(s);
        }
        sockets.clear();
    }

    void restore() throws IOException {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        listen(s);
    }

    private static void quietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        cut();
    }
}
