-- AlterTable
ALTER TABLE "policies" ADD COLUMN "residency_requirement_default" VARCHAR(100),
ADD COLUMN "residency_override" VARCHAR(100);
