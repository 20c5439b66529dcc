# One image for every metasync process (web, worker, beat, flower, sandbox).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md celeryconfig.py ./
COPY metasync ./metasync
COPY workers ./workers
RUN pip install --no-cache-dir . && useradd --create-home metasync
USER metasync
CMD ["metasync", "--help"]
