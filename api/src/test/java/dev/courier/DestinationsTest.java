package dev.courier;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@DisplayName("Destinations")
class DestinationsTest {

    private static final String RULES = "' is invalid: use letters, digits, '_', '-' and single dots between segments "
            + "(e.g. 'orders.created'); no spaces, wildcards or leading/trailing dots";

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(strings = {"orders", "orders.created", "Orders_V2", "a-b.c_d.E9", "x", "0", "a.b.c.d.e"})
    @DisplayName("accepts letters, digits, '_' and '-' in dot-separated segments and returns the name unchanged")
    void validTopics(String name) {
        assertThat(Destinations.checkTopic(name)).isEqualTo(name);
        assertThat(Destinations.checkGroup(name)).isEqualTo(name);
    }

    @Test
    @DisplayName("accepts a name of exactly MAX_LENGTH (200) characters")
    void longestName() {
        String name = "a".repeat(Destinations.MAX_LENGTH);

        assertThat(Destinations.checkTopic(name)).isEqualTo(name);
    }

    @ParameterizedTest(name = "''{0}''")
    @ValueSource(strings = {"orders created", " orders", "orders ", "orders.*", "orders.>", "orders.#", "*", ">", "#",
            ".orders", "orders.", "orders..created", ".", "orders/created", "orders:created", "bestellungen.größe",
            "orders\tcreated"})
    @DisplayName("refuses spaces, wildcards, leading/trailing dots, '..' and other characters, quoting the name")
    void invalidTopics(String name) {
        assertThatThrownBy(() -> Destinations.checkTopic(name))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("topic name '" + name + RULES);
    }

    @Test
    @DisplayName("a group name is checked by the same rules and called a group in the message")
    void invalidGroup() {
        assertThatThrownBy(() -> Destinations.checkGroup("billing team"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("group name 'billing team" + RULES);
    }

    @Test
    @DisplayName("refuses an empty or null name")
    void empty() {
        assertThatThrownBy(() -> Destinations.checkTopic(""))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("topic name must not be empty");
        assertThatThrownBy(() -> Destinations.checkTopic(null))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("topic name must not be empty");
        assertThatThrownBy(() -> Destinations.checkGroup(""))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("group name must not be empty");
    }

    @Test
    @DisplayName("refuses a name longer than 200 characters, quoting its first 40 characters and its length")
    void tooLong() {
        String name = "a".repeat(40) + "b".repeat(161);

        assertThatThrownBy(() -> Destinations.checkTopic(name))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("topic name '" + "a".repeat(40) + "...' is 201 characters; the limit is 200");
    }

    @Test
    @DisplayName("the dead-letter topic is <topic>.<group>.dlq, or <topic>.dlq without a group")
    void deadLetterTopic() {
        assertThat(Destinations.deadLetterTopic("orders", "inventory")).isEqualTo("orders.inventory.dlq");
        assertThat(Destinations.deadLetterTopic("orders.created", null)).isEqualTo("orders.created.dlq");
    }

    @Test
    @DisplayName("a subscription's default dead-letter topic follows the same naming and is itself a valid topic")
    void subscriptionDeadLetterTopic() {
        assertThat(Subscribe.to("orders").group("inventory").deadLetterTopic()).isEqualTo("orders.inventory.dlq");
        assertThat(Subscribe.to("orders").deadLetterTopic()).isEqualTo("orders.dlq");
        assertThat(Subscribe.to("orders").group("inventory").deadLetterTopic("parking-lot").deadLetterTopic())
                .isEqualTo("parking-lot");
        assertThat(Destinations.checkTopic(Destinations.deadLetterTopic("orders", "inventory")))
                .isEqualTo("orders.inventory.dlq");
    }

    @Test
    @DisplayName("a message to an invalid topic cannot be built")
    void messageTopicChecked() {
        assertThatThrownBy(() -> Message.builder("orders.*").build())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("topic name 'orders.*' is invalid");
    }
}
