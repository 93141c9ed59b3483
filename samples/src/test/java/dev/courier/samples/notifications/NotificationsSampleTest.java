package dev.courier.samples.notifications;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.Courier;
import dev.courier.CourierConfig;
import dev.courier.testkit.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class NotificationsSampleTest {

    @Test
    @DisplayName("the demo on mem:// stores five notifications per user in order and rejects four bad requests")
    void demoOnMemory() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        NotificationsSample.Summary s = NotificationsSample.run(
                CourierConfig.builder().withoutEnvironment().url("mem://notifications-demo").build(), 0, false,
                new PrintStream(buf, true, StandardCharsets.UTF_8));
        assertThat(s).as(buf.toString(StandardCharsets.UTF_8)).isEqualTo(new NotificationsSample.Summary(5,
                Map.of(400, 1, 404, 1, 405, 1, 415, 1), Map.of("alice", 3, "bob", 2), true));
    }

    @Nested
    @DisplayName("the HTTP server")
    class Server {

        private final HttpClient http = HttpClient.newHttpClient();
        private final ObjectMapper json = new ObjectMapper();
        private Courier courier;
        private NotificationServer server;
        private String base;

        @BeforeEach
        void start() {
            courier = Courier.connect(CourierConfig.builder().withoutEnvironment().url("mem://notifications-server").build());
            server = NotificationServer.start(courier, "notifications.test." + System.nanoTime(), 0, (who, what) -> { });
            base = "http://127.0.0.1:" + server.port();
        }

        @AfterEach
        void stop() {
            server.close();
            courier.close();
        }

        private HttpResponse<String> post(String contentType, String body) throws Exception {
            return http.send(HttpRequest.newBuilder(URI.create(base + "/send")).header("Content-Type", contentType)
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        }

        private HttpResponse<String> get(String path) throws Exception {
            return http.send(HttpRequest.newBuilder(URI.create(base + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
        }

        private String error(HttpResponse<String> r) throws Exception {
            assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
            JsonNode node = json.readTree(r.body());
            assertThat(node.get("error").isTextual()).as(r.body()).isTrue();
            return node.get("error").asText();
        }

        @Test
        @DisplayName("keeps each user's notifications in the order they were sent")
        void perUserOrder() throws Exception {
            List<String> ann = new ArrayList<>();
            List<String> ben = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                ann.add("ann " + i);
                ben.add("ben " + i);
                assertThat(post("application/json", json.writeValueAsString(Map.of("userId", "ann", "text", "ann " + i))).statusCode()).isEqualTo(202);
                assertThat(post("application/x-www-form-urlencoded; charset=UTF-8", "userId=ben&text=ben+" + i).statusCode()).isEqualTo(202);
            }
            Await.atMost(Duration.ofSeconds(30)).until("40 notifications stored", () -> server.stored() == 40, server::stored);
            for (var user : Map.of("ann", ann, "ben", ben).entrySet()) {
                HttpResponse<String> r = get("/notifications/" + user.getKey());
                assertThat(r.statusCode()).isEqualTo(200);
                List<NotificationServer.Notification> list = json.readValue(r.body(), new TypeReference<>() { });
                assertThat(list).extracting(NotificationServer.Notification::text).containsExactlyElementsOf(user.getValue());
                assertThat(list).extracting(NotificationServer.Notification::userId).containsOnly(user.getKey());
            }
        }

        @Test
        @DisplayName("answers bad input with 400 and a JSON error naming the problem")
        void badInput() throws Exception {
            HttpResponse<String> r = post("application/json", "{\"text\":\"hi\"}");
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(error(r)).contains("userId is required");

            r = post("application/json", "{\"userId\":\"ann\",\"text\":\"   \"}");
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(error(r)).contains("text is required");

            r = post("application/x-www-form-urlencoded", "userId=ann&text=" + "x".repeat(NotificationServer.MAX_TEXT + 1));
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(error(r)).contains("at most " + NotificationServer.MAX_TEXT);

            r = post("application/json", "{\"userId\":");
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(error(r)).contains("not valid JSON");

            r = post("application/json", "{\"userId\":\"a/b\",\"text\":\"hi\"}");
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(error(r)).contains("userId may contain only");
            assertThat(server.stored()).isZero();
        }

        @Test
        @DisplayName("answers a wrong method with 405, a wrong content type with 415 and an unknown user with 404")
        void wrongRequests() throws Exception {
            HttpResponse<String> r = get("/send");
            assertThat(r.statusCode()).isEqualTo(405);
            assertThat(r.headers().firstValue("Allow")).hasValue("POST");
            assertThat(error(r)).contains("use POST");

            r = http.send(HttpRequest.newBuilder(URI.create(base + "/notifications/ann"))
                    .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(405);

            r = post("text/plain", "ann: hi");
            assertThat(r.statusCode()).isEqualTo(415);
            assertThat(error(r)).contains("not text/plain");

            r = get("/notifications/nobody");
            assertThat(r.statusCode()).isEqualTo(404);
            assertThat(error(r)).isEqualTo("no notifications for user 'nobody'");
        }
    }
}
