package dev.courier.testkit;

import dev.courier.ClosedException;
import dev.courier.Message;
import dev.courier.PublishException;
import dev.courier.PublishReceipt;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MockPublisherTest {

    record Shipment(String id, int parcels) {
    }

    @Test
    void autoCompleteConfirmsAtOnceAndRecordsHistory() {
        MockPublisher publisher = new MockPublisher();
        PublishReceipt receipt = publisher.publish("shipments", "s-1", new Shipment("s-1", 2)).toCompletableFuture().join();
        publisher.publish("audit", "shipped");

        assertThat(receipt.topic()).isEqualTo("shipments");
        assertThat(publisher.history()).extracting(Message::topic).containsExactly("shipments", "audit");
        assertThat(publisher.history("shipments")).extracting(Message::key).containsExactly("s-1");
        assertThat(publisher.payloads("shipments", Shipment.class)).containsExactly(new Shipment("s-1", 2));
        assertThat(receipt.messageId()).isEqualTo(publisher.history().get(0).id());
        assertThat(publisher.outstanding()).isZero();
    }

    @Test
    void withoutAutoCompleteTheTestCompletesOrFailsOldestFirst() {
        MockPublisher publisher = new MockPublisher(false);
        CompletableFuture<PublishReceipt> first = publisher.publish("t", "1").toCompletableFuture();
        CompletableFuture<PublishReceipt> second = publisher.publish("t", "2").toCompletableFuture();
        assertThat(first).isNotDone();
        assertThat(publisher.outstanding()).isEqualTo(2);

        assertThat(publisher.completeNext()).isTrue();
        assertThat(first).isCompleted();
        assertThat(second).isNotDone();

        PublishException boom = new PublishException("t", "broker said no", null);
        assertThat(publisher.errorNext(boom)).isTrue();
        assertThatThrownBy(second::join).isInstanceOf(CompletionException.class).hasCause(boom);

        assertThat(publisher.completeNext()).as("nothing pending").isFalse();
        assertThat(publisher.errorNext(boom)).as("nothing pending").isFalse();
        assertThat(publisher.history()).hasSize(2);
    }

    @Test
    void autoCompleteCanBeSwitched() {
        MockPublisher publisher = new MockPublisher(false);
        CompletableFuture<PublishReceipt> pending = publisher.publish("t", "1").toCompletableFuture();
        publisher.autoComplete(true);
        assertThat(publisher.publish("t", "2").toCompletableFuture()).isCompleted();
        assertThat(pending).as("switching does not complete what is pending").isNotDone();
        assertThat(publisher.completeAll()).isEqualTo(1);
        assertThat(pending).isCompleted();
    }

    @Test
    void publishAllCompletesWhenEveryMessageDoes() {
        MockPublisher publisher = new MockPublisher(false);
        CompletableFuture<List<PublishReceipt>> all = publisher.publishAll(List.of(
                publisher.message("t", "a").build(), publisher.message("t", "b").build())).toCompletableFuture();
        publisher.completeNext();
        assertThat(all).isNotDone();
        publisher.completeNext();
        assertThat(all.join()).extracting(PublishReceipt::topic).containsExactly("t", "t");
    }

    @Test
    void clearForgetsHistoryButNotPendingStages() {
        MockPublisher publisher = new MockPublisher(false);
        CompletableFuture<PublishReceipt> pending = publisher.publish("t", "1").toCompletableFuture();
        publisher.clear();
        assertThat(publisher.history()).isEmpty();
        assertThat(publisher.completeNext()).isTrue();
        assertThat(pending).isCompleted();
    }

    @Test
    void publishAfterCloseFailsWithClosedException() {
        MockPublisher publisher = new MockPublisher();
        publisher.close();
        assertThat(publisher.closed()).isTrue();
        assertThatThrownBy(() -> publisher.publish("t", "late").toCompletableFuture().join()).hasCauseInstanceOf(ClosedException.class);
        assertThat(publisher.history()).isEmpty();
    }
}
