package dev.courier.cli;

import dev.courier.StartPosition;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConvertersTest {

    @Test
    void durations() {
        Converters.DurationConverter c = new Converters.DurationConverter();
        assertThat(c.convert("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(c.convert("30s")).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.convert("PT1M")).isEqualTo(Duration.ofMinutes(1));
        assertThat(c.convert("250")).isEqualTo(Duration.ofMillis(250));
        assertThatThrownBy(() -> c.convert("soon")).isInstanceOf(TypeConversionException.class).hasMessageContaining("30s");
        assertThat(Converters.format(Duration.ofMillis(500))).isEqualTo("500ms");
        assertThat(Converters.format(Duration.ofMillis(1500))).isEqualTo("1.5s");
        assertThat(Converters.format(Duration.ofSeconds(30))).isEqualTo("30s");
        assertThat(Converters.format(Duration.ofMinutes(2))).isEqualTo("2m");
    }

    @Test
    void startPositions() {
        Converters.StartConverter c = new Converters.StartConverter();
        assertThat(c.convert("earliest")).isEqualTo(StartPosition.earliest());
        assertThat(c.convert("LATEST")).isEqualTo(StartPosition.latest());
        assertThat(c.convert("2026-11-23T10:00:00Z")).isEqualTo(StartPosition.at(Instant.parse("2026-11-23T10:00:00Z")));
        assertThat(c.convert("2026-11-23T11:00:00+01:00")).isEqualTo(StartPosition.at(Instant.parse("2026-11-23T10:00:00Z")));
        assertThatThrownBy(() -> c.convert("yesterday")).isInstanceOf(TypeConversionException.class).hasMessageContaining("earliest");
    }

    @Test
    void contentTypes() {
        assertThat(MessageOptions.detectContentType("{\"a\":1}".getBytes())).isEqualTo("application/json");
        assertThat(MessageOptions.detectContentType("{not json".getBytes())).startsWith("text/plain");
        assertThat(MessageOptions.detectContentType("42".getBytes())).startsWith("text/plain");
        assertThat(MessageOptions.detectContentType(new byte[] {(byte) 0xc3, 0x28})).isEqualTo("application/octet-stream");
    }
}
