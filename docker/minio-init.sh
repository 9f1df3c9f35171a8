#!/bin/sh
# The compose job `minio-init` (image minio/mc), run after MinIO is healthy and before web and worker start:
# the private bucket for inbound media and the gateway's own MinIO user, allowed that bucket and nothing else.
# Every step may run again at each `docker compose up`.
#
#   MINIO_ROOT_USER, MINIO_ROOT_PASSWORD                  MinIO's administrator (this job only)
#   MEDIA_S3_BUCKET                                       the bucket the gateway writes to
#   MEDIA_S3_ACCESS_KEY_ID, MEDIA_S3_SECRET_ACCESS_KEY    the gateway's credentials (web, worker)
set -eu

mc alias set gateway-minio http://minio:9000 "${MINIO_ROOT_USER}" "${MINIO_ROOT_PASSWORD}" >/dev/null
mc mb --ignore-existing "gateway-minio/${MEDIA_S3_BUCKET}"
# No anonymous access: clients get a file only through GET /messages/{id}/media, after the API's checks.
mc anonymous set none "gateway-minio/${MEDIA_S3_BUCKET}"

# Read, write and delete objects, and list the bucket (a HEAD of a missing object needs it to answer 404).
policy_file="${TMPDIR:-/tmp}/waha-gateway-media-policy.json"
printf '%s' "{\"Version\":\"2012-10-17\",\"Statement\":[\
{\"Effect\":\"Allow\",\"Action\":[\"s3:ListBucket\",\"s3:GetBucketLocation\"],\
\"Resource\":[\"arn:aws:s3:::${MEDIA_S3_BUCKET}\"]},\
{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\",\"s3:DeleteObject\"],\
\"Resource\":[\"arn:aws:s3:::${MEDIA_S3_BUCKET}/*\"]}]}" >"${policy_file}"
mc admin policy create gateway-minio waha-gateway-media "${policy_file}"

# Adding an existing user sets its secret again, so a changed MEDIA_S3_SECRET_ACCESS_KEY takes effect.
mc admin user add gateway-minio "${MEDIA_S3_ACCESS_KEY_ID}" "${MEDIA_S3_SECRET_ACCESS_KEY}"
# `attach` fails when the policy is attached already: detach first (which fails when it is not).
mc admin policy detach gateway-minio waha-gateway-media --user "${MEDIA_S3_ACCESS_KEY_ID}" >/dev/null 2>&1 || true
mc admin policy attach gateway-minio waha-gateway-media --user "${MEDIA_S3_ACCESS_KEY_ID}"
echo "minio-init: bucket ${MEDIA_S3_BUCKET} is private; user ${MEDIA_S3_ACCESS_KEY_ID} may use it"
