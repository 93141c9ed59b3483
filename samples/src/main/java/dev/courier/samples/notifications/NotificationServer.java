package dev.courier.samples.notifications;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.courier.Courier;
import dev.courier.Ordering;
import dev.courier.Subscribe;
import dev.courier.Subscription;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * A small HTTP front end over Courier: {@code POST /send} publishes a notification keyed by its
 * user, a consumer group keeps every user's notifications in order, and
 * {@code GET /notifications/{userId}} lists them.
 *
 * <ul>
 *   <li>{@code POST /send} with a JSON ({@code {"userId":"...","text":"..."}}) or form body:
 *       202 with the notification's id once the broker confirmed it; 400 for a missing, blank or
 *       too long field, 405 for another method, 415 for another content type, 413 for a body over
 *       {@value #MAX_BODY} bytes, 503 when the publish failed.</li>
 *   <li>{@code GET /notifications/{userId}}: 200 with a JSON list (oldest first), 404 for a user
 *       without notifications.</li>
 * </ul>
 * Every error has a JSON body {@code {"error": "..."}}. Thread-safe; {@link #close()} stops the
 * HTTP server, then the subscription.
 */
public final class NotificationServer implements AutoCloseable {

    /** Longest accepted text, in characters. */
    public static final int MAX_TEXT = 280;
    /** Longest accepted user id, in characters. */
    public static final int MAX_USER_ID = 64;
    /** Largest accepted request body, in bytes. */
    public static final int MAX_BODY = 16 * 1024;
    static final Pattern USER_ID = Pattern.compile("[A-Za-z0-9._-]+");
    private static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(10);

    /** One stored notification, as listed by {@code GET /notifications/{userId}}. */
    public record Notification(String id, String userId, String text, String sentAt) {
    }

    private final Courier courier;
    private final String topic;
    private final HttpServer http;
    private final ExecutorService executor;
    private final Subscription store;
    private final Map<String, List<Notification>> byUser = new HashMap<>();
    private final ObjectMapper json = new ObjectMapper();
    private final BiConsumer<String, String> log;

    private NotificationServer(Courier courier, String topic, int port, BiConsumer<String, String> log) throws IOException {
        this.courier = courier;
        this.topic = topic;
        this.log = log;
        // the store: one group, in order per user (the key)
        this.store = courier.subscribe(Subscribe.to(topic).group("notification-store").concurrency(4)
                .ordering(Ordering.BY_KEY), d -> {
            Notification n = d.payload(Notification.class);
            synchronized (byUser) {
                List<Notification> list = byUser.computeIfAbsent(n.userId(), u -> new ArrayList<>());
                if (list.stream().noneMatch(x -> x.id().equals(n.id()))) { // a redelivery is stored once
                    list.add(n);
                }
            }
            log.accept("store", "stored for " + n.userId() + ": \"" + n.text() + "\"");
        });
        try {
            this.http = HttpServer.create(new InetSocketAddress(port), 0);
        } catch (BindException e) {
            store.close();
            throw new IllegalArgumentException("port " + port + " is in use; choose another with --port (0 picks a free one)", e);
        }
        this.executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "notifications-http");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(executor);
        http.createContext("/send", this::send);
        http.createContext("/notifications/", this::list);
        http.createContext("/", ex -> error(ex, 404, "no such resource " + ex.getRequestURI().getPath()
                + "; use POST /send or GET /notifications/{userId}"));
        http.start();
    }

    /**
     * Subscribes the store to {@code topic} and starts serving on {@code port} (0: a free port).
     *
     * @param log receives (service, event) lines for a timeline
     * @throws IllegalArgumentException if the port is in use
     */
    public static NotificationServer start(Courier courier, String topic, int port, BiConsumer<String, String> log) {
        try {
            return new NotificationServer(courier, topic, port, log);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the HTTP server on port " + port + ": " + e.getMessage(), e);
        }
    }

    /** The port the server listens on. */
    public int port() {
        return http.getAddress().getPort();
    }

    /** Notifications stored so far, over all users. */
    public int stored() {
        synchronized (byUser) {
            return byUser.values().stream().mapToInt(List::size).sum();
        }
    }

    private void send(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("POST")) {
                ex.getResponseHeaders().set("Allow", "POST");
                error(ex, 405, "use POST for /send, not " + ex.getRequestMethod());
                return;
            }
            String contentType = mediaType(ex.getRequestHeaders().getFirst("Content-Type"));
            if (!contentType.equals("application/json") && !contentType.equals("application/x-www-form-urlencoded")) {
                error(ex, 415, "send application/json or application/x-www-form-urlencoded, not "
                        + (contentType.isEmpty() ? "a body without Content-Type" : contentType));
                return;
            }
            byte[] body = readBody(ex.getRequestBody());
            if (body == null) {
                error(ex, 413, "the body is larger than " + MAX_BODY + " bytes");
                return;
            }
            Map<String, String> fields;
            try {
                fields = contentType.equals("application/json") ? jsonFields(body) : formFields(body);
            } catch (IllegalArgumentException e) {
                error(ex, 400, e.getMessage());
                return;
            }
            String userId = fields.get("userId");
            String text = fields.get("text");
            String invalid = validate(userId, text);
            if (invalid != null) {
                error(ex, 400, invalid);
                return;
            }
            Notification n = new Notification(UUID.randomUUID().toString(), userId, text, Instant.now().toString());
            try {
                courier.publisher().publish(topic, userId, n).toCompletableFuture()
                        .get(PUBLISH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                error(ex, 503, "the notification was not accepted by the broker, try again: " + e);
                return;
            }
            log.accept("http", "POST /send accepted for " + userId + ": \"" + text + "\"");
            respond(ex, 202, Map.of("id", n.id(), "userId", userId));
        }
    }

    private void list(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("GET")) {
                ex.getResponseHeaders().set("Allow", "GET");
                error(ex, 405, "use GET for /notifications/{userId}, not " + ex.getRequestMethod());
                return;
            }
            String userId = ex.getRequestURI().getPath().substring("/notifications/".length());
            if (userId.isEmpty() || !USER_ID.matcher(userId).matches()) {
                error(ex, 400, "the path must be /notifications/{userId} with a user id of letters, digits, '.', '_' or '-'");
                return;
            }
            List<Notification> list;
            synchronized (byUser) {
                List<Notification> stored = byUser.get(userId);
                list = stored == null ? null : List.copyOf(stored);
            }
            if (list == null) {
                error(ex, 404, "no notifications for user '" + userId + "'");
                return;
            }
            respond(ex, 200, list);
        }
    }

    /** Returns what is wrong with the fields, or {@code null}. */
    static String validate(String userId, String text) {
        if (userId == null || userId.isBlank()) {
            return "userId is required";
        }
        if (userId.length() > MAX_USER_ID) {
            return "userId is longer than " + MAX_USER_ID + " characters";
        }
        if (!USER_ID.matcher(userId).matches()) {
            return "userId may contain only letters, digits, '.', '_' and '-'";
        }
        if (text == null || text.isBlank()) {
            return "text is required and must not be blank";
        }
        if (text.length() > MAX_TEXT) {
            return "text is " + text.length() + " characters long; at most " + MAX_TEXT + " are allowed";
        }
        return null;
    }

    private Map<String, String> jsonFields(byte[] body) {
        JsonNode node;
        try {
            node = json.readTree(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("the body is not valid JSON: " + firstLine(e.getMessage()));
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("the body must be a JSON object with userId and text");
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (String name : List.of("userId", "text")) {
            JsonNode v = node.get(name);
            if (v != null && !v.isNull()) {
                if (!v.isTextual()) {
                    throw new IllegalArgumentException(name + " must be a string");
                }
                fields.put(name, v.asText());
            }
        }
        return fields;
    }

    private static Map<String, String> formFields(byte[] body) {
        Map<String, String> fields = new LinkedHashMap<>();
        for (String pair : new String(body, StandardCharsets.UTF_8).split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            fields.putIfAbsent(name, value);
        }
        return fields;
    }

    private static String mediaType(String header) {
        if (header == null) {
            return "";
        }
        int semicolon = header.indexOf(';');
        return (semicolon < 0 ? header : header.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
    }

    private static byte[] readBody(InputStream in) throws IOException {
        byte[] body = in.readNBytes(MAX_BODY + 1);
        return body.length > MAX_BODY ? null : body;
    }

    private void error(HttpExchange ex, int status, String message) throws IOException {
        log.accept("http", ex.getRequestMethod() + " " + ex.getRequestURI().getPath() + " -> " + status + " " + message);
        respond(ex, status, Map.of("error", message));
    }

    private void respond(HttpExchange ex, int status, Object body) throws IOException {
        byte[] bytes;
        try {
            bytes = json.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IOException("cannot encode the response", e);
        }
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Stops accepting requests, then closes the store's subscription (the Courier stays open). */
    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
        store.close();
    }
}
