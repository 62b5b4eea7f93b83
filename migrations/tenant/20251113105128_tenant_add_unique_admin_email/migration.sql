-- DropIndex
DROP INDEX "users_email_idx";

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");
