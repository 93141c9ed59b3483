package dev.courier.samples.notifications;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.samples.Timeline;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;

/**
 * Real-time notifications behind HTTP: starts a {@link NotificationServer} (JDK HTTP server) and
 * drives it with {@link HttpClient} the way a front end would: five notifications for two users
 * (JSON and form bodies), four bad requests (blank text, wrong method, wrong content type, unknown
 * user), then each user's list, in the order sent.
 *
 * <p>Options: {@code --port N} (or {@code -Dcourier.sample.port=N}; default 8080, 0 picks a free
 * port) and {@code --serve} to keep serving after the demo until the process is stopped, e.g. for
 * {@code curl -H 'Content-Type: application/json' -d '{"userId":"ann","text":"hi"}' localhost:8080/send}.
 */
public final class NotificationsSample {

    /** Config key of the HTTP port. */
    public static final String PORT = "courier.sample.port";
    /** Default HTTP port. */
    public static final int DEFAULT_PORT = 8080;

    /**
     * What the demo saw.
     *
     * @param accepted          POST /send answered 202
     * @param rejectedByStatus  error answers by HTTP status
     * @param listedByUser      how many notifications GET /notifications/{userId} listed per user
     * @param inOrder           whether every user's list came back in the order it was sent
     */
    public record Summary(int accepted, Map<Integer, Integer> rejectedByStatus, Map<String, Integer> listedByUser,
                          boolean inOrder) {
    }

    private NotificationsSample() {
    }

    /**
     * Runs the notifications demo; options {@code --port N} and {@code --serve};
     * exit code 0 when it saw what it expected, 2 for bad options.
     */
    public static void main(String[] args) {
        CourierConfig config = CourierConfig.load();
        int port;
        boolean serve = false;
        try {
            port = config.intValue(PORT, DEFAULT_PORT, 0, 65_535);
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--port" -> {
                        if (i + 1 >= args.length) {
                            throw new IllegalArgumentException("--port needs a number, e.g. --port 8080");
                        }
                        port = parsePort(args[++i]);
                    }
                    case "--serve" -> serve = true;
                    default -> throw new IllegalArgumentException("unknown option '" + args[i] + "'; use --port N and --serve");
                }
            }
        } catch (IllegalArgumentException e) {
            System.err.println("notifications sample: " + e.getMessage());
            System.exit(2);
            return;
        }
        try {
            Summary s = run(config, port, serve, System.out);
            System.exit(s.inOrder() && s.accepted() == 5 ? 0 : 1);
        } catch (RuntimeException e) {
            System.err.println("notifications sample failed on " + CourierConfig.maskUrl(config.url()) + ": " + e.getMessage());
            System.exit(1);
        }
    }

    static int parsePort(String s) {
        try {
            int p = Integer.parseInt(s);
            if (p < 0 || p > 65_535) {
                throw new NumberFormatException();
            }
            return p;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--port must be a number from 0 to 65535, was '" + s + "'");
        }
    }

    /**
     * Starts the server on {@code port}, runs the demo against it and returns what it saw; with
     * {@code serve} it then keeps serving until the process is stopped.
     */
    public static Summary run(CourierConfig config, int port, boolean serve, PrintStream out) {
        String topic = "notifications." + Long.toString(System.currentTimeMillis(), 36) + Integer.toString((int) (Math.random() * 1296), 36);
        Timeline timeline = new Timeline(out);
        try (Courier courier = Courier.connect(config);
             NotificationServer server = NotificationServer.start(courier, topic, port, (who, what) -> timeline.event(who, "%s", what))) {
            String base = "http://127.0.0.1:" + server.port();
            timeline.note("notifications sample on %s (%s binding), HTTP on %s", CourierConfig.maskUrl(courier.url()),
                    courier.capabilities().binding(), base);
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            ObjectMapper json = new ObjectMapper();

            List<String[]> sends = List.of(new String[]{"alice", "your order shipped"}, new String[]{"bob", "welcome, bob"},
                    new String[]{"alice", "your order is out for delivery"}, new String[]{"bob", "password changed"},
                    new String[]{"alice", "your order was delivered"});
            int accepted = 0;
            for (int i = 0; i < sends.size(); i++) {
                String[] s = sends.get(i);
                HttpResponse<String> r = i == 1
                        ? post(http, base, "application/x-www-form-urlencoded", "userId=" + s[0] + "&text=" + s[1].replace(" ", "+"))
                        : post(http, base, "application/json", json.writeValueAsString(Map.of("userId", s[0], "text", s[1])));
                if (r.statusCode() == 202) {
                    accepted++;
                }
            }
            Map<Integer, Integer> rejected = new TreeMap<>();
            count(rejected, post(http, base, "application/json", "{\"userId\":\"alice\",\"text\":\"  \"}"));
            count(rejected, send(http, HttpRequest.newBuilder(URI.create(base + "/send")).GET()));
            count(rejected, post(http, base, "text/plain", "alice: hello"));
            count(rejected, send(http, HttpRequest.newBuilder(URI.create(base + "/notifications/nobody")).GET()));

            awaitStored(server, accepted);
            Map<String, Integer> listed = new TreeMap<>();
            boolean inOrder = true;
            for (String user : List.of("alice", "bob")) {
                HttpResponse<String> r = send(http, HttpRequest.newBuilder(URI.create(base + "/notifications/" + user)).GET());
                List<NotificationServer.Notification> list = json.readValue(r.body(), new TypeReference<>() { });
                List<String> texts = list.stream().map(NotificationServer.Notification::text).toList();
                List<String> sent = sends.stream().filter(s -> s[0].equals(user)).map(s -> s[1]).toList();
                inOrder &= texts.equals(sent);
                listed.put(user, list.size());
                timeline.event("client", "GET /notifications/%s -> %d %s", user, r.statusCode(), texts);
            }
            Summary summary = new Summary(accepted, rejected, listed, inOrder);
            timeline.note("summary: %d accepted, rejected by status %s, listed %s, %s", accepted, rejected, listed,
                    inOrder ? "each user's notifications in the order sent" : "OUT OF ORDER");
            if (serve) {
                timeline.note("serving on %s until stopped (Ctrl-C); try: curl -H 'Content-Type: application/json' "
                        + "-d '{\"userId\":\"ann\",\"text\":\"hi\"}' %s/send", base, base);
                new CountDownLatch(1).await();
            }
            return summary;
        } catch (IOException e) {
            throw new UncheckedIOException("HTTP call to the sample's own server failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static HttpResponse<String> post(HttpClient http, String base, String contentType, String body)
            throws IOException, InterruptedException {
        return send(http, HttpRequest.newBuilder(URI.create(base + "/send")).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private static HttpResponse<String> send(HttpClient http, HttpRequest.Builder request) throws IOException, InterruptedException {
        return http.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void count(Map<Integer, Integer> byStatus, HttpResponse<String> r) {
        byStatus.merge(r.statusCode(), 1, Integer::sum);
    }

    private static void awaitStored(NotificationServer server, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (server.stored() < expected) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("only " + server.stored() + " of " + expected
                        + " notifications reached the store within 60s; is the broker reachable?");
            }
            Thread.sleep(20);
        }
    }
}
