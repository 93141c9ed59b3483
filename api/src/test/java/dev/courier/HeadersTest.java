package dev.courier;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

@DisplayName("Headers")
class HeadersTest {

    @Test
    @DisplayName("with() returns a copy with the header set and leaves the original unchanged")
    void withCopies() {
        Headers one = Headers.of("a", "1");

        Headers two = one.with("b", "2");

        assertThat(one.asMap()).containsExactly(entry("a", "1"));
        assertThat(two.asMap()).containsExactly(entry("a", "1"), entry("b", "2"));
    }

    @Test
    @DisplayName("with() on an existing name replaces its value and keeps its position")
    void replace() {
        Headers h = Headers.of("a", "1").with("b", "2").with("a", "3");

        assertThat(h.asMap()).containsExactly(entry("a", "3"), entry("b", "2"));
        assertThat(h.get("a")).isEqualTo("3");
        assertThat(h.size()).isEqualTo(2);
    }

    @Test
    @DisplayName("names are case-sensitive")
    void caseSensitive() {
        Headers h = Headers.of("Trace", "1").with("trace", "2");

        assertThat(h.size()).isEqualTo(2);
        assertThat(h.get("Trace")).isEqualTo("1");
        assertThat(h.get("TRACE")).isNull();
    }

    @Test
    @DisplayName("without() removes a header; removing an absent one returns the same instance")
    void remove() {
        Headers h = Headers.of("a", "1").with("b", "2");

        assertThat(h.without("a").asMap()).containsExactly(entry("b", "2"));
        assertThat(h.without("zzz")).isSameAs(h);
        assertThat(h.without("a").without("b")).isSameAs(Headers.empty());
        assertThat(h.asMap()).containsExactly(entry("a", "1"), entry("b", "2"));
    }

    @Test
    @DisplayName("withAll() sets every entry, replacing equal names; an empty map returns the same instance")
    void withAll() {
        Headers h = Headers.of("a", "1");
        Map<String, String> more = new LinkedHashMap<>();
        more.put("a", "9");
        more.put("c", "3");

        assertThat(h.withAll(more).asMap()).containsExactly(entry("a", "9"), entry("c", "3"));
        assertThat(h.withAll(Map.of())).isSameAs(h);
    }

    @Test
    @DisplayName("of(map) copies the map: changing it afterwards changes nothing")
    void ofCopies() {
        Map<String, String> source = new HashMap<>(Map.of("a", "1"));
        Headers h = Headers.of(source);

        source.put("b", "2");

        assertThat(h.asMap()).containsExactly(entry("a", "1"));
    }

    @Test
    @DisplayName("asMap() is unmodifiable")
    void unmodifiable() {
        assertThatThrownBy(() -> Headers.of("a", "1").asMap().put("b", "2"))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> Headers.empty().asMap().put("b", "2"))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    @DisplayName("get(), find() and contains() report absent names as null, empty and false")
    void absent() {
        Headers h = Headers.of("a", "1");

        assertThat(h.get("x")).isNull();
        assertThat(h.find("x")).isEmpty();
        assertThat(h.find("a")).contains("1");
        assertThat(h.contains("a")).isTrue();
        assertThat(h.contains("x")).isFalse();
    }

    @Test
    @DisplayName("refuses null and empty names and null values, naming the header")
    void nullRefusal() {
        Map<String, String> nullValue = new HashMap<>();
        nullValue.put("a", null);
        Map<String, String> nullName = new HashMap<>();
        nullName.put(null, "1");

        assertThatThrownBy(() -> Headers.empty().with("a", null))
                .isInstanceOf(NullPointerException.class).hasMessage("header 'a' has a null value");
        assertThatThrownBy(() -> Headers.empty().with(null, "1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("header name must be a non-empty string");
        assertThatThrownBy(() -> Headers.empty().with("", "1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("header name must be a non-empty string");
        assertThatThrownBy(() -> Headers.of(nullValue))
                .isInstanceOf(NullPointerException.class).hasMessage("header 'a' has a null value");
        assertThatThrownBy(() -> Headers.of(nullName))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("header name must be a non-empty string");
        assertThatThrownBy(() -> Headers.empty().withAll(nullValue))
                .isInstanceOf(NullPointerException.class).hasMessage("header 'a' has a null value");
    }

    @Test
    @DisplayName("an empty value is allowed")
    void emptyValue() {
        assertThat(Headers.of("a", "").get("a")).isEmpty();
    }

    @Test
    @DisplayName("two headers with the same entries are equal, whatever their order")
    void equality() {
        Headers ab = Headers.of("a", "1").with("b", "2");
        Headers ba = Headers.of("b", "2").with("a", "1");

        assertThat(ab).isEqualTo(ba).hasSameHashCodeAs(ba);
        assertThat(Headers.of(Map.of())).isSameAs(Headers.empty());
    }

    @Test
    @DisplayName("of(name, value) explains a null or empty name and a null value, like the other methods")
    void ofOneChecksItsArguments() {
        assertThatThrownBy(() -> Headers.of(null, "v")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("header name must be a non-empty string");
        assertThatThrownBy(() -> Headers.of("", "v")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Headers.of("x-trace", null)).isInstanceOf(NullPointerException.class)
                .hasMessage("header 'x-trace' has a null value");
        assertThat(Headers.of("x-trace", "t1").get("x-trace")).isEqualTo("t1");
    }
}
