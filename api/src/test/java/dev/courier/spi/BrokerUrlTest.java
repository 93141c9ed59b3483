package dev.courier.spi;

import dev.courier.ConfigurationException;
import dev.courier.spi.BrokerUrl.HostPort;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

@DisplayName("BrokerUrl")
class BrokerUrlTest {

    @Test
    @DisplayName("parses scheme, one host and port; no user, path or parameters")
    void singleHost() {
        BrokerUrl url = BrokerUrl.parse("kafka://localhost:9092");

        assertThat(url.scheme()).isEqualTo("kafka");
        assertThat(url.hosts()).containsExactly(new HostPort("localhost", 9092));
        assertThat(url.user()).isNull();
        assertThat(url.password()).isNull();
        assertThat(url.path()).isEmpty();
        assertThat(url.params()).isEmpty();
        assertThat(url).hasToString("kafka://localhost:9092");
    }

    @Test
    @DisplayName("lower-cases the scheme")
    void schemeLowerCased() {
        assertThat(BrokerUrl.parse("NATS://localhost:4222").scheme()).isEqualTo("nats");
    }

    @Test
    @DisplayName("keeps several hosts in URL order, with or without ports")
    void multipleHosts() {
        BrokerUrl url = BrokerUrl.parse("kafka://k1:9092, k2:9093,k3");

        assertThat(url.hosts()).containsExactly(new HostPort("k1", 9092), new HostPort("k2", 9093), new HostPort("k3", -1));
        assertThat(url).hasToString("kafka://k1:9092,k2:9093,k3");
    }

    @Test
    @DisplayName("hostList() fills in the default port and keeps explicit ones")
    void hostListDefaultPort() {
        BrokerUrl url = BrokerUrl.parse("kafka://k1,k2:9093");

        assertThat(url.hostList(9092)).isEqualTo("k1:9092,k2:9093");
    }

    @Test
    @DisplayName("a host without a port reports -1, and portOr() gives the default")
    void missingPort() {
        HostPort hp = BrokerUrl.parse("amqp://rabbit").hosts().get(0);

        assertThat(hp.port()).isEqualTo(-1);
        assertThat(hp.portOr(5672)).isEqualTo(5672);
        assertThat(new HostPort("rabbit", 5671).portOr(5672)).isEqualTo(5671);
    }

    @Test
    @DisplayName("reads bracketed IPv6 literals with and without a port, and brackets them again in hostList()")
    void ipv6() {
        BrokerUrl url = BrokerUrl.parse("nats://[::1]:4222,[2001:db8::7]");

        assertThat(url.hosts()).containsExactly(new HostPort("::1", 4222), new HostPort("2001:db8::7", -1));
        assertThat(url.hostList(4222)).isEqualTo("[::1]:4222,[2001:db8::7]:4222");
    }

    @Test
    @DisplayName("splits user and password and URL-decodes both")
    void userInfoDecoded() {
        BrokerUrl url = BrokerUrl.parse("amqp://app%40corp:p%40ss%3Aw%2Fo%25rd@rabbit:5672/");

        assertThat(url.user()).isEqualTo("app@corp");
        assertThat(url.password()).isEqualTo("p@ss:w/o%rd");
    }

    @Test
    @DisplayName("takes the last @ as the end of the user info, so a raw @ in the password survives")
    void rawAtInPassword() {
        BrokerUrl url = BrokerUrl.parse("amqp://guest:pa@ss@rabbit:5672");

        assertThat(url.password()).isEqualTo("pa@ss");
        assertThat(url.hosts()).containsExactly(new HostPort("rabbit", 5672));
    }

    @Test
    @DisplayName("a user without a password has a null password")
    void userOnly() {
        BrokerUrl url = BrokerUrl.parse("kafka://alice@broker:9092");

        assertThat(url.user()).isEqualTo("alice");
        assertThat(url.password()).isNull();
    }

    @Test
    @DisplayName("gives the path without its leading slash, decoded: an AMQP vhost")
    void vhostPath() {
        assertThat(BrokerUrl.parse("amqp://guest:guest@localhost:5672/%2F").path()).isEqualTo("/");
        assertThat(BrokerUrl.parse("amqp://localhost/orders%2Fprod").path()).isEqualTo("orders/prod");
        assertThat(BrokerUrl.parse("amqp://localhost/").path()).isEmpty();
    }

    @Test
    @DisplayName("mem:// has no hosts and may name the broker in its path")
    void memUrl() {
        assertThat(BrokerUrl.parse("mem://").hosts()).isEmpty();
        assertThat(BrokerUrl.parse("mem:///shared").path()).isEqualTo("shared");
    }

    @Test
    @DisplayName("reads query parameters in order, decoded, with a bare name as an empty value")
    void queryParams() {
        BrokerUrl url = BrokerUrl.parse("kafka://localhost:9092?client.id=my%20app&acks=all&idempotent&&x=a%3Db");

        assertThat(url.params()).containsExactly(
                entry("client.id", "my app"), entry("acks", "all"), entry("idempotent", ""), entry("x", "a=b"));
        assertThat(url.param("acks", "1")).isEqualTo("all");
        assertThat(url.param("linger.ms", "5")).isEqualTo("5");
    }

    @Test
    @DisplayName("parameters and hosts are unmodifiable")
    void unmodifiable() {
        BrokerUrl url = BrokerUrl.parse("kafka://localhost:9092?a=b");

        assertThatThrownBy(() -> url.params().put("c", "d")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> url.hosts().clear()).isInstanceOf(UnsupportedOperationException.class);
    }

    @ParameterizedTest(name = "port ''{0}''")
    @ValueSource(strings = {"0", "65536", "-1", "+0", ""})
    @DisplayName("an invalid port fails with a ConfigurationException quoting the masked URL, the port and the range")
    void invalidPort(String port) {
        assertThatThrownBy(() -> BrokerUrl.parse("amqp://guest:secret@rabbit:" + port + "/"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("'amqp://guest:****@rabbit:" + port + "/' has an invalid port '" + port + "'; ports are 1 to 65535")
                .message().doesNotContain("secret");
    }

    @Test
    @DisplayName("accepts the extreme ports 1 and 65535")
    void portBounds() {
        assertThat(BrokerUrl.parse("nats://a:1,b:65535").hosts()).extracting(HostPort::port).containsExactly(1, 65535);
    }

    @Test
    @DisplayName("an empty entry in the host list is an error")
    void emptyHost() {
        assertThatThrownBy(() -> BrokerUrl.parse("kafka://k1:9092,,k2:9092"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("'kafka://k1:9092,,k2:9092' has an empty host in its host list");
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(strings = {"localhost:9092", "://localhost", "kafka:/localhost"})
    @DisplayName("a URL without a scheme is an error that shows the expected form")
    void noScheme(String url) {
        assertThatThrownBy(() -> BrokerUrl.parse(url))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("'" + url + "' is not a broker URL: expected scheme://host:port");
    }

    @Test
    @DisplayName("an empty or null URL is an error that names courier.url")
    void empty() {
        assertThatThrownBy(() -> BrokerUrl.parse(" "))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("broker URL is empty; set courier.url");
        assertThatThrownBy(() -> BrokerUrl.parse(null)).isInstanceOf(ConfigurationException.class);
    }

    @Test
    @DisplayName("toString() masks the password and parameters named like secrets (password, token, secret, sasl.jaas..., *.key) and never contains them")
    void toStringMasks() {
        BrokerUrl url = BrokerUrl.parse("amqp://guest:hunter2@rabbit:5672/prod?heartbeat=30&password=pw-param&authToken=tk");

        assertThat(url).hasToString("amqp://guest:****@rabbit:5672/prod?heartbeat=30&password=****&authToken=****");
        assertThat(url.toString()).doesNotContain("hunter2", "pw-param", "tk");
        assertThat(url.password()).isEqualTo("hunter2");
        assertThat(url.params()).containsEntry("password", "pw-param");

        String jaas = "PlainLoginModule required username=\"app\" password=\"s3cret\";";
        BrokerUrl kafka = BrokerUrl.parse("kafka://k1:9092?sasl.jaas.config=" + java.net.URLEncoder.encode(jaas, java.nio.charset.StandardCharsets.UTF_8)
                + "&ssl.keystore.key=KEYDATA&client.secret=cs&linger.ms=5");
        assertThat(kafka).hasToString("kafka://k1:9092?sasl.jaas.config=****&ssl.keystore.key=****&client.secret=****&linger.ms=5");
        assertThat(dev.courier.CourierConfig.maskUrl("kafka://k1:9092?sasl.jaas.config=x&ssl.keystore.key=y&linger.ms=5"))
                .isEqualTo("kafka://k1:9092?sasl.jaas.config=****&ssl.keystore.key=****&linger.ms=5");
    }

    @Test
    @DisplayName("the password does not leak into toString() even when it equals a URL-encoded form")
    void toStringMasksDecodedPassword() {
        BrokerUrl url = BrokerUrl.parse("amqp://u:s%3Ac%40ret@h");

        assertThat(url.toString()).isEqualTo("amqp://u:****@h").doesNotContain("s:c@ret", "s%3Ac%40ret");
    }

    @Test
    @DisplayName("an empty password is masked like any other")
    void emptyPassword() {
        assertThat(BrokerUrl.parse("amqp://u:@h")).hasToString("amqp://u:****@h");
    }

    @Test
    @DisplayName("parameters keep URL order in toString()")
    void paramOrder() {
        BrokerUrl url = BrokerUrl.parse("nats://n:4222?z=1&a=2");

        assertThat(url.params().keySet()).containsExactly("z", "a");
        assertThat(url).hasToString("nats://n:4222?z=1&a=2");
        assertThat(url.params()).isEqualTo(Map.of("z", "1", "a", "2"));
    }

    @Test
    @DisplayName("a '+' in the password, path or a parameter is kept as '+', not turned into a space")
    void plusIsLiteral() {
        BrokerUrl url = BrokerUrl.parse("nats://app:tok+en/with+plus@nats:4222/a+b?name=x+y");

        assertThat(url.password()).isEqualTo("tok+en/with+plus");
        assertThat(url.path()).isEqualTo("a+b");
        assertThat(url.params()).containsEntry("name", "x+y");
        assertThat(BrokerUrl.parse("amqp://u:a%2Bb@h").password()).isEqualTo("a+b");
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(strings = {"amqp://guest:100%@rabbit", "amqp://guest:50%zz@rabbit", "amqp://rabbit/vh%4"})
    @DisplayName("a malformed percent escape is a ConfigurationException that masks the password and explains %25")
    void malformedEscape(String raw) {
        assertThatThrownBy(() -> BrokerUrl.parse(raw))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageEndingWith("has a malformed %-escape; write a literal % as %25")
                .message().doesNotContain("100%@", "50%zz");
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(strings = {"nats://[::1:4222", "nats://[::1]4222", "nats://[]:4222"})
    @DisplayName("a malformed IPv6 literal is a ConfigurationException naming the host")
    void malformedIpv6(String raw) {
        String host = raw.substring("nats://".length());

        assertThatThrownBy(() -> BrokerUrl.parse(raw))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("'" + raw + "' has a malformed IPv6 host '" + host + "'; write it as [address] or [address]:port");
    }

    @Test
    @DisplayName("toString() brackets IPv6 hosts so that it parses back to the same hosts")
    void ipv6ToString() {
        BrokerUrl url = BrokerUrl.parse("nats://u:secret@[::1]:4222,[2001:db8::7]");

        assertThat(url).hasToString("nats://u:****@[::1]:4222,[2001:db8::7]");
        assertThat(BrokerUrl.parse(url.toString()).hosts()).isEqualTo(url.hosts());
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(strings = {"amqp://guest:s3cr?et99@127.0.0.1:5672/", "nats://s3cr?et99@127.0.0.1:4222",
            "kafka://user:s3cr?et99:1@127.0.0.1:9092", "amqp://guest:s3cr?et99@127.0.0.1:bad/", "nats://s3cr?et99@[::1"})
    @DisplayName("a raw '?' in a password or token keeps it in the user info: it never appears in toString() or an error")
    void rawQuestionMarkInPassword(String raw) {
        String shown;
        try {
            shown = BrokerUrl.parse(raw).toString();
        } catch (ConfigurationException e) {
            shown = e.getMessage();
        }
        assertThat(shown).doesNotContain("s3cr", "et99");
        assertThat(dev.courier.CourierConfig.maskUrl(raw)).doesNotContain("s3cr", "et99");
    }

    @Test
    @DisplayName("a raw '?' in a password or token is part of it, and a query after the host is still read")
    void rawQuestionMarkParsed() {
        BrokerUrl amqp = BrokerUrl.parse("amqp://guest:s3cr?et99@127.0.0.1:5672/vh?heartbeat=30");
        assertThat(amqp.user()).isEqualTo("guest");
        assertThat(amqp.password()).isEqualTo("s3cr?et99");
        assertThat(amqp.hosts()).containsExactly(new HostPort("127.0.0.1", 5672));
        assertThat(amqp.path()).isEqualTo("vh");
        assertThat(amqp.params()).containsExactly(entry("heartbeat", "30"));
        assertThat(amqp).hasToString("amqp://guest:****@127.0.0.1:5672/vh?heartbeat=30");

        BrokerUrl nats = BrokerUrl.parse("nats://tok?en123@127.0.0.1:4222");
        assertThat(nats.user()).isEqualTo("tok?en123");
        assertThat(nats).hasToString("nats://****@127.0.0.1:4222");

        assertThat(BrokerUrl.parse("kafka://user:s3cr?et99:1@127.0.0.1:9092").password()).isEqualTo("s3cr?et99:1");
    }

    @Test
    @DisplayName("an '@' inside a query parameter (a JAAS user name, an e-mail) is not taken for the end of the user info")
    void atInQuery() {
        String jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a@b\" password=\"pw\";";
        BrokerUrl kafka = BrokerUrl.parse("kafka://h:9092?sasl.jaas.config=" + jaas + "&linger.ms=5");
        assertThat(kafka.user()).isNull();
        assertThat(kafka.hosts()).containsExactly(new HostPort("h", 9092));
        assertThat(kafka.params()).containsEntry("sasl.jaas.config", jaas).containsEntry("linger.ms", "5");
        assertThat(kafka).hasToString("kafka://h:9092?sasl.jaas.config=****&linger.ms=5");

        BrokerUrl withUser = BrokerUrl.parse("amqp://u:pw@rabbit/vh?client.name=ops@corp");
        assertThat(withUser.password()).isEqualTo("pw");
        assertThat(withUser.hosts()).containsExactly(new HostPort("rabbit", -1));
        assertThat(withUser.params()).containsEntry("client.name", "ops@corp");

        BrokerUrl noPath = BrokerUrl.parse("nats://n:4222?name=ops@corp");
        assertThat(noPath.user()).isNull();
        assertThat(noPath.params()).containsEntry("name", "ops@corp");
        assertThat(dev.courier.CourierConfig.maskUrl("nats://n:4222?name=ops@corp")).isEqualTo("nats://n:4222?name=ops@corp");
    }

    @Test
    @DisplayName("a port that is not a number is reported without quoting it, since a mistyped URL may have put a secret there")
    void invalidPortNotQuotedWhenNotNumeric() {
        assertThatThrownBy(() -> BrokerUrl.parse("amqp://guest@rabbit:s3cret/"))
                .isInstanceOf(ConfigurationException.class)
                .message().doesNotContain("s3cret");
    }
}
