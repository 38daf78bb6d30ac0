CREATE TABLE "webhook_outbox" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text,
	"seq" integer,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone NOT NULL,
	"give_up_at" timestamp (3) with time zone NOT NULL,
	"lease_until" timestamp (3) with time zone,
	"lease_token" text,
	"last_error" text,
	"last_status" integer,
	"created_at" timestamp (3) with time zone NOT NULL,
	"delivered_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE INDEX "webhook_outbox_due_idx" ON "webhook_outbox" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "webhook_outbox_user_seq_idx" ON "webhook_outbox" USING btree ("user_id","seq");--> statement-breakpoint
CREATE INDEX "webhook_outbox_status_created_idx" ON "webhook_outbox" USING btree ("status","created_at","id");--> statement-breakpoint
CREATE INDEX "webhook_outbox_delivered_idx" ON "webhook_outbox" USING btree ("delivered_at");