-- AlterEnum
ALTER TYPE "UserRole" ADD VALUE 'AUDITOR';

-- AlterTable
ALTER TABLE "model_pools" ADD COLUMN "is_active" BOOLEAN NOT NULL DEFAULT true;

-- AlterTable
ALTER TABLE "route_targets" ADD COLUMN "max_tokens" INTEGER,
ADD COLUMN "supports_streaming" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "model_invocations" ADD COLUMN "user_id" UUID,
ADD COLUMN "user_group_id" UUID;

-- CreateIndex
CREATE INDEX "model_invocations_user_id_created_at_idx" ON "model_invocations"("user_id", "created_at");

-- CreateIndex
CREATE INDEX "model_invocations_user_group_id_idx" ON "model_invocations"("user_group_id");

-- CreateIndex
CREATE INDEX "audit_log_rule_id_idx" ON "audit_log"("rule_id");

-- AddForeignKey
ALTER TABLE "model_invocations" ADD CONSTRAINT "model_invocations_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_invocations" ADD CONSTRAINT "model_invocations_user_group_id_fkey" FOREIGN KEY ("user_group_id") REFERENCES "user_groups"("id") ON DELETE SET NULL ON UPDATE CASCADE;
