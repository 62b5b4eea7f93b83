-- CreateEnum
CREATE TYPE "PolicyStatus" AS ENUM ('DRAFT', 'PUBLISHED', 'ARCHIVED');

-- CreateEnum
CREATE TYPE "AuditDecision" AS ENUM ('ALLOW', 'BLOCK', 'WARN_ROUTE', 'ROUTE', 'REQUIRE_OVERRIDE');

-- CreateTable
CREATE TABLE "policies" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "policy_key" VARCHAR(255) NOT NULL,
    "version" VARCHAR(50) NOT NULL,
    "title" TEXT NOT NULL,
    "jurisdiction" VARCHAR(50) NOT NULL,
    "status" "PolicyStatus" NOT NULL DEFAULT 'DRAFT',
    "evaluation_strategy" JSONB NOT NULL,
    "rules" JSONB NOT NULL DEFAULT '[]',
    "published_by" TEXT,
    "published_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "policies_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "timestamp" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "org_id" TEXT,
    "policy_id" UUID,
    "rule_id" TEXT NOT NULL,
    "effect" "AuditDecision" NOT NULL,
    "actor_id" TEXT,
    "payload_hash" CHAR(64) NOT NULL,
    "prev_hash" CHAR(64) NOT NULL,
    "merkle_leaf" CHAR(64),
    "redacted_payload" JSONB,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_pools" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" VARCHAR(255) NOT NULL,
    "region" VARCHAR(100) NOT NULL,
    "description" TEXT,
    "tags" JSONB NOT NULL DEFAULT '[]',
    "health" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_pools_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "route_targets" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "pool_id" UUID NOT NULL,
    "provider" VARCHAR(100) NOT NULL,
    "endpoint" TEXT NOT NULL,
    "model_identifier" VARCHAR(255) NOT NULL,
    "weight" INTEGER NOT NULL DEFAULT 1,
    "region" VARCHAR(100) NOT NULL,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "profile" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "route_targets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "route_profiles" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" VARCHAR(255) NOT NULL,
    "pool_id" UUID,
    "basic" JSONB,
    "preferences" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "route_profiles_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_invocations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "policy_id" UUID,
    "rule_id" TEXT,
    "decision" "AuditDecision" NOT NULL,
    "pool_id" UUID,
    "route_target_id" UUID,
    "audit_log_id" UUID,
    "provider" VARCHAR(100) NOT NULL,
    "model_identifier" VARCHAR(255) NOT NULL,
    "latency_ms" INTEGER NOT NULL,
    "prompt_tokens" INTEGER,
    "completion_tokens" INTEGER,
    "total_tokens" INTEGER,
    "estimated_cost_aud" DECIMAL(12,6),
    "org_id" TEXT,
    "request_payload" JSONB NOT NULL,
    "response_payload" JSONB,
    "error_message" TEXT,

    CONSTRAINT "model_invocations_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "policies_policy_key_key" ON "policies"("policy_key");

-- CreateIndex
CREATE INDEX "audit_log_timestamp_idx" ON "audit_log"("timestamp");

-- CreateIndex
CREATE INDEX "audit_log_org_id_timestamp_idx" ON "audit_log"("org_id", "timestamp");

-- CreateIndex
CREATE INDEX "audit_log_policy_id_idx" ON "audit_log"("policy_id");

-- CreateIndex
CREATE UNIQUE INDEX "model_pools_name_key" ON "model_pools"("name");

-- CreateIndex
CREATE INDEX "route_targets_pool_id_idx" ON "route_targets"("pool_id");

-- CreateIndex
CREATE UNIQUE INDEX "route_profiles_name_key" ON "route_profiles"("name");

-- CreateIndex
CREATE INDEX "route_profiles_pool_id_idx" ON "route_profiles"("pool_id");

-- CreateIndex
CREATE INDEX "model_invocations_created_at_idx" ON "model_invocations"("created_at");

-- CreateIndex
CREATE INDEX "model_invocations_policy_id_idx" ON "model_invocations"("policy_id");

-- CreateIndex
CREATE INDEX "model_invocations_pool_id_idx" ON "model_invocations"("pool_id");

-- CreateIndex
CREATE INDEX "model_invocations_route_target_id_idx" ON "model_invocations"("route_target_id");

-- CreateIndex
CREATE INDEX "model_invocations_audit_log_id_idx" ON "model_invocations"("audit_log_id");

-- AddForeignKey
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_policy_id_fkey" FOREIGN KEY ("policy_id") REFERENCES "policies"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "route_targets" ADD CONSTRAINT "route_targets_pool_id_fkey" FOREIGN KEY ("pool_id") REFERENCES "model_pools"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "route_profiles" ADD CONSTRAINT "route_profiles_pool_id_fkey" FOREIGN KEY ("pool_id") REFERENCES "model_pools"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_invocations" ADD CONSTRAINT "model_invocations_policy_id_fkey" FOREIGN KEY ("policy_id") REFERENCES "policies"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_invocations" ADD CONSTRAINT "model_invocations_pool_id_fkey" FOREIGN KEY ("pool_id") REFERENCES "model_pools"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_invocations" ADD CONSTRAINT "model_invocations_route_target_id_fkey" FOREIGN KEY ("route_target_id") REFERENCES "route_targets"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_invocations" ADD CONSTRAINT "model_invocations_audit_log_id_fkey" FOREIGN KEY ("audit_log_id") REFERENCES "audit_log"("id") ON DELETE SET NULL ON UPDATE CASCADE;
