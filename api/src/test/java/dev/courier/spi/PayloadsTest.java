package dev.courier.spi;

import dev.courier.Message;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PayloadsTest {

    @Test
    @DisplayName("array returns the message's own payload array, where payload() returns a copy")
    void arrayIsNotACopy() {
        Message m = Message.builder("orders").payload(new byte[] {1, 2, 3}).build();
        assertThat(Payloads.array(m)).containsExactly(1, 2, 3).isSameAs(Payloads.array(m));
        assertThat(m.payload()).isNotSameAs(Payloads.array(m));
    }

    @Test
    @DisplayName("owned hands the array to the message without copying it")
    void ownedIsNotCopied() {
        byte[] bytes = {4, 5};
        Message m = Payloads.owned(Message.builder("orders"), bytes).build();
        assertThat(Payloads.array(m)).isSameAs(bytes);
        assertThatThrownBy(() -> Payloads.owned(Message.builder("orders"), null)).isInstanceOf(NullPointerException.class);
    }
}
