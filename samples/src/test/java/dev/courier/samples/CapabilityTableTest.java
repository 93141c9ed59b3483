package dev.courier.samples;

import dev.courier.testkit.CapabilityTable;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/capabilities.md must be what the bindings declare. This module has every binding on its
 * test classpath, so the rendering here covers them all. Run with {@code -Dcourier.docs.write=true}
 * to rewrite the file instead of checking it.
 */
class CapabilityTableTest {

    private static final Path DOC = Path.of("..", "docs", "capabilities.md");

    @Test
    void committedTableMatchesTheDeclaredCapabilities() throws IOException {
        String rendered = CapabilityTable.render();
        if (Boolean.getBoolean("courier.docs.write")) {
            Files.writeString(DOC, rendered, StandardCharsets.UTF_8);
            System.out.println("wrote " + DOC.toAbsolutePath().normalize());
        }
        String committed = Files.exists(DOC) ? Files.readString(DOC, StandardCharsets.UTF_8) : "";
        assertThat(committed)
                .as("docs/capabilities.md differs from what the bindings declare; regenerate it with%n  %s%nand commit it",
                        CapabilityTable.REGENERATE)
                .isEqualTo(rendered);
    }
}
